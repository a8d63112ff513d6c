#include "scanner_fixes.h"
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/parser.h>

typedef void *(*ScannerCreate)(void);
typedef void (*ScannerDeserialize)(void *, const char *, unsigned);

/* lua's original scanner functions and the one mended copy of its language (kept here,
   so that every registry that loads it gets the same copy, and it stays reachable). */
static pthread_mutex_t lua_lock = PTHREAD_MUTEX_INITIALIZER;
static const TSLanguage *lua_original;
static TSLanguage *lua_mended;
static ScannerCreate lua_create;
static ScannerDeserialize lua_deserialize;
static const char lua_zero_state[2] = {0, 0};

static void *lua_create_initialized(void) {
    void *payload = lua_create();
    if (payload) lua_deserialize(payload, lua_zero_state, sizeof lua_zero_state);
    return payload;
}

/* Whether the scanner takes the zero state and gives it back unchanged. */
static int round_trips_zero_state(const TSLanguage *l) {
    void *payload = l->external_scanner.create();
    if (!payload) return 0;
    l->external_scanner.deserialize(payload, lua_zero_state, sizeof lua_zero_state);
    char buffer[TREE_SITTER_SERIALIZATION_BUFFER_SIZE];
    memset(buffer, 0x5A, sizeof buffer);
    unsigned n = l->external_scanner.serialize(payload, buffer);
    l->external_scanner.destroy(payload);
    return n == sizeof lua_zero_state && memcmp(buffer, lua_zero_state, n) == 0;
}

static const TSLanguage *mend_lua(const TSLanguage *l) {
    if (lua_mended) return l == lua_original ? lua_mended : l; /* another lua library: as it is */
    if (!l->external_scanner.create || !l->external_scanner.deserialize || !l->external_scanner.serialize
        || !l->external_scanner.destroy || !round_trips_zero_state(l)) {
        return l;
    }
    /* ABI 13 languages end before primary_state_ids (which 0.20.7 reads from ABI 14 on). */
    size_t size = l->version >= 14 ? sizeof(TSLanguage) : offsetof(TSLanguage, primary_state_ids);
    TSLanguage *copy = calloc(1, sizeof(TSLanguage));
    if (!copy) return l;
    memcpy(copy, l, size);
    lua_create = l->external_scanner.create;
    lua_deserialize = l->external_scanner.deserialize;
    copy->external_scanner.create = lua_create_initialized;
    lua_original = l;
    lua_mended = copy;
    return copy;
}

const TSLanguage *cst_mended_language(const TSLanguage *language, const char *name) {
    if (strcmp(name, "lua") != 0) return language;
    pthread_mutex_lock(&lua_lock);
    const TSLanguage *result = mend_lua(language);
    pthread_mutex_unlock(&lua_lock);
    return result;
}

int cst_fresh_scanner_state(const TSLanguage *l, char *buffer, unsigned capacity) {
    if (!l->external_scanner.create || !l->external_scanner.serialize || !l->external_scanner.destroy) return -1;
    char state[TREE_SITTER_SERIALIZATION_BUFFER_SIZE];
    void *payload = l->external_scanner.create();
    unsigned n = l->external_scanner.serialize(payload, state);
    l->external_scanner.destroy(payload);
    if (n > capacity) n = capacity;
    memcpy(buffer, state, n);
    return (int)n;
}
