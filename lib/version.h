/*
 * version: the one place the release number lives (User-Agent, the
 * --version of meisa-bulk and meisa-sandbox).
 */
#ifndef MB_VERSION_H
#define MB_VERSION_H

#define MB_VERSION "0.1.0"

#endif
