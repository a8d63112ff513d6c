/* Shared by the reference programs: a whole file read into a malloc'ed buffer (one spare
   byte, set to 0), its length in *len; NULL when it cannot be read. */
#include <stdio.h>
#include <stdlib.h>

static char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*len + 1);
    if (fread(buf, 1, *len, f) != (size_t)*len) { fclose(f); free(buf); return NULL; }
    fclose(f);
    buf[*len] = 0;
    return buf;
}
