/* Shared by every platform. KEV_PACKAGE_VERSION is defined by build.py. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
static const char *kev_package_version(void) { return KEV_PACKAGE_VERSION; }
