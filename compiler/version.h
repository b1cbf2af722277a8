/* version.h - the compiler's version, printed by --version and stamped
 * into generated files. */
#ifndef AECC_VERSION_H
#define AECC_VERSION_H
#define AECC_VERSION "0.1.0"
#endif
