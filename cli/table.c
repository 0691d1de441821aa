/*
 * table.c - aligned text tables (see table.h).
 */
#include <stdlib.h>
#include <string.h>

#include "strs.h"
#include "table.h"
#include "banned.h"

void table_init(struct table *t, size_t ncols)
{
	t->ncols = ncols;
	t->cells.items = NULL;
	t->cells.n = 0;
}

int table_row(struct table *t, const char *const *cells)
{
	size_t i;
	int rc;

	for (i = 0; i < t->ncols; i++)
		if ((rc = strs_list_add(&t->cells, cells[i] ? cells[i] : "")))
			return rc;
	return 0;
}

/* Display width: UTF-8 continuation bytes do not count. */
static size_t width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

void table_print(const struct table *t, FILE *f)
{
	size_t *w, rows, r, c;

	if (!t->ncols || !t->cells.n)
		return;
	w = calloc(t->ncols, sizeof(*w));
	if (!w)
		return;
	rows = t->cells.n / t->ncols;
	for (r = 0; r < rows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t n = width(t->cells.items[r * t->ncols + c]);
			if (n > w[c])
				w[c] = n;
		}
	for (r = 0; r < rows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *cell = t->cells.items[r * t->ncols + c];
			fputs(cell, f);
			if (c + 1 < t->ncols)
				fprintf(f, "%*s", (int)(w[c] - width(cell) + 2), "");
		}
		fputc('\n', f);
	}
	free(w);
}

void table_release(struct table *t)
{
	strs_list_release(&t->cells);
}
