/* names.h: the names of dump files, final and temporary (names.c). */
#ifndef HD_NAMES_H
#define HD_NAMES_H

#include <stddef.h>
#include <time.h>

/* The longest tag a name keeps (the rest is cut). */
#define HD_NAMES_MAX_TAG 60

/* Write into out (cap bytes) the name of a dump file:
 *
 *     [directory/]heapdump-<UTC stamp of when>-<pid>[-<tag>][-<n>].dump
 *
 * e.g. heapdump-20261122T101500Z-4242-ValueError.dump.  tag (NULL or ""
 * for none) keeps only its ASCII letters, digits and '_', at most
 * HD_NAMES_MAX_TAG of them.  With a directory (not NULL), the name is one
 * not taken yet there: -2, -3, ... is added while access(2) finds the
 * name.  Returns 0, or -1 when out is too small or 9999 names are taken.
 *
 * Async-signal-safe: no malloc, no stdio, no locale, no Python; only
 * access(2) (the fatal handler and the watcher thread call it). */
int hd_names_dump(char *out, size_t cap, const char *directory,
                  const char *tag, time_t when, long pid);

/* Write into out (cap bytes) the temporary name of final_path while pid
 * writes it, "<final_path>.<pid>.tmp": a name no reader takes for a dump.
 * Returns 0, or -1 when out is too small.  Async-signal-safe, as above. */
int hd_names_tmp(char *out, size_t cap, const char *final_path, long pid);

#endif
