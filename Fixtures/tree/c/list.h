/* Singly linked list of ints: C header fixture. */
#ifndef LIST_H
#define LIST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIST_VERSION "1.0"
#define LIST_FOREACH(node, list) \
    for ((node) = (list)->head; (node) != NULL; (node) = (node)->next)

typedef struct list_node {
    int value;
    struct list_node *next;
} list_node;

typedef struct {
    list_node *head;
    size_t len;
} list;

void list_init(list *l);
int list_push(list *l, int value);
int list_pop(list *l, int *out);
void list_free(list *l);
size_t list_len(const list *l);

#ifdef __cplusplus
}
#endif

#endif /* LIST_H */
