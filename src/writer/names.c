/* names.c: the names of dump files, final and temporary: the one place
 * they are built.  The signal and fatal dumps (triggers/signals.c) call it
 * where Python cannot run, container.c for the temporary file, and Python
 * through _heapdump.dump_name and _heapdump.tmp_name (heapdump._writer,
 * heapdump._files); heapdump._files parses what it builds.
 *
 * Everything here is async-signal-safe (the fatal handler calls it): the
 * text is assembled by hand, with no snprintf, strftime or gmtime_r (none
 * of which POSIX lists as async-signal-safe), and the only call out is
 * access(2).
 */
#include "writer/names.h"

#include <string.h>
#include <unistd.h>

/* Append text (len bytes) to out at *at, keeping a NUL after it.  Returns
 * 0, or -1 when it does not fit. */
static int
names_put(char *out, size_t cap, size_t *at, const char *text, size_t len)
{
    if (*at + len + 1 > cap) {
        return -1;
    }
    memcpy(out + *at, text, len);
    *at += len;
    out[*at] = '\0';
    return 0;
}

/* Append v in decimal, at least width digits (zeros in front). */
static int
names_put_num(char *out, size_t cap, size_t *at, long long v, int width)
{
    char digits[24];
    int n = 0, neg = v < 0;
    unsigned long long u =
        neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0 || n < width);
    if (neg) {
        digits[sizeof(digits) - 1 - n++] = '-';
    }
    return names_put(out, cap, at, digits + sizeof(digits) - n, (size_t)n);
}

/* Append when as YYYYMMDDTHHMMSSZ (UTC, proleptic Gregorian; the days to
 * a civil date as in H. Hinnant's "chrono-compatible low-level date
 * algorithms"). */
static int
names_put_stamp(char *out, size_t cap, size_t *at, time_t when)
{
    long long t = (long long)when;
    long long days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    long long day = doy - (153 * mp + 2) / 5 + 1;
    long long month = mp < 10 ? mp + 3 : mp - 9;
    long long year = yoe + era * 400 + (month <= 2);
    if (names_put_num(out, cap, at, year, 4) < 0 ||
        names_put_num(out, cap, at, month, 2) < 0 ||
        names_put_num(out, cap, at, day, 2) < 0 ||
        names_put(out, cap, at, "T", 1) < 0 ||
        names_put_num(out, cap, at, secs / 3600, 2) < 0 ||
        names_put_num(out, cap, at, secs / 60 % 60, 2) < 0 ||
        names_put_num(out, cap, at, secs % 60, 2) < 0) {
        return -1;
    }
    return names_put(out, cap, at, "Z", 1);
}

int
hd_names_dump(char *out, size_t cap, const char *directory, const char *tag,
              time_t when, long pid)
{
    size_t at = 0;
    if (cap == 0) {
        return -1;
    }
    out[0] = '\0';
    if (directory != NULL &&
        (names_put(out, cap, &at, directory, strlen(directory)) < 0 ||
         names_put(out, cap, &at, "/", 1) < 0)) {
        return -1;
    }
    if (names_put(out, cap, &at, "heapdump-", 9) < 0 ||
        names_put_stamp(out, cap, &at, when) < 0 ||
        names_put(out, cap, &at, "-", 1) < 0 ||
        names_put_num(out, cap, &at, pid, 1) < 0) {
        return -1;
    }
    size_t kept = 0;
    for (const char *c = tag; c != NULL && *c && kept < HD_NAMES_MAX_TAG;
         c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                 (*c >= '0' && *c <= '9') || *c == '_';
        if (!ok) {
            continue;
        }
        if ((kept == 0 && names_put(out, cap, &at, "-", 1) < 0) ||
            names_put(out, cap, &at, c, 1) < 0) {
            return -1;
        }
        kept++;
    }
    size_t stem = at;
    if (names_put(out, cap, &at, ".dump", 5) < 0) {
        return -1;
    }
    if (directory == NULL) {
        return 0;
    }
    for (int n = 2; access(out, F_OK) == 0; n++) {
        if (n > 9999) {
            return -1;
        }
        at = stem;
        if (names_put(out, cap, &at, "-", 1) < 0 ||
            names_put_num(out, cap, &at, n, 1) < 0 ||
            names_put(out, cap, &at, ".dump", 5) < 0) {
            return -1;
        }
    }
    return 0;
}

int
hd_names_tmp(char *out, size_t cap, const char *final_path, long pid)
{
    size_t at = 0;
    if (cap == 0) {
        return -1;
    }
    out[0] = '\0';
    if (names_put(out, cap, &at, final_path, strlen(final_path)) < 0 ||
        names_put(out, cap, &at, ".", 1) < 0 ||
        names_put_num(out, cap, &at, pid, 1) < 0) {
        return -1;
    }
    return names_put(out, cap, &at, ".tmp", 4);
}
