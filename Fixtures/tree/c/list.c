/* Linked list implementation: C source fixture. */
#include <stdio.h>
#include <stdlib.h>
#include "list.h"

#ifndef LIST_DEBUG
#define LIST_DEBUG 0
#endif

#if LIST_DEBUG
#  define TRACE(fmt, ...) fprintf(stderr, "[list] " fmt "\n", __VA_ARGS__)
#else
#  define TRACE(fmt, ...) ((void)0)
#endif

void list_init(list *l) {
    l->head = NULL;
    l->len = 0;
}

int list_push(list *l, int value) {
    list_node *n = malloc(sizeof *n);
    if (!n) {
        return -1;
    }
    n->value = value;
    n->next = l->head;
    l->head = n;
    l->len++;
    TRACE("push %d (len=%zu)", value, l->len);
    return 0;
}

int list_pop(list *l, int *out) {
    list_node *n = l->head;
    if (n == NULL) {
        return -1;
    }
    *out = n->value;
    l->head = n->next;
    l->len--;
    free(n);
    return 0;
}

void list_free(list *l) {
    int ignored;
    while (list_pop(l, &ignored) == 0) {
        /* drain */
    }
}

size_t list_len(const list *l) { return l->len; }

#ifdef LIST_MAIN
int main(void) {
    list l;
    list_node *it;
    list_init(&l);
    for (int i = 0; i < 5; i++) {
        list_push(&l, i * i);
    }
    LIST_FOREACH(it, &l) {
        printf("%d ", it->value);
    }
    printf("\nlen=%zu version=%s\n", list_len(&l), LIST_VERSION);
    list_free(&l);
    return 0;
}
#endif
