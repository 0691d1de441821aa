/*
 * table.h - aligned text tables for people: a header row, then rows, each
 * column as wide as its widest cell, two spaces between columns.
 */
#ifndef CLI_TABLE_H
#define CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "wire.h"

struct table {
	size_t ncols;
	struct wire_list cells; /* row-major */
};

/* Starts an empty table of ncols columns. */
void table_init(struct table *t, size_t ncols);

/* Adds a row of ncols cells (copied; NULL prints as ""). 0 or -ENOMEM. */
int table_row(struct table *t, const char *const *cells);

/* Prints the table to f. */
void table_print(const struct table *t, FILE *f);

/* Frees the cells. */
void table_release(struct table *t);

#endif
