/*
 * conffile: the configuration file's syntax (see conffile.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"
#include "xmalloc.h"

/* Longer lines are refused: no setting needs them. */
#define CONF_LINE_MAX 4096
#define CONF_QUEUE_NAME_MAX 64

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
	                      end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static bool
key_valid(const char *k)
{
	if (*k == '\0')
		return false;
	for (; *k != '\0'; k++) {
		if (!islower((unsigned char)*k) &&
		    !isdigit((unsigned char)*k) && *k != '-')
			return false;
	}
	return true;
}

static bool
queue_valid(const char *q)
{
	size_t n = strlen(q);

	if (n == 0 || n > CONF_QUEUE_NAME_MAX)
		return false;
	for (; *q != '\0'; q++) {
		if (!isalnum((unsigned char)*q) && *q != '_' && *q != '.' &&
		    *q != '-')
			return false;
	}
	return true;
}

static const struct conf_item *
find(const struct conf *c, const char *queue, const char *key)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (strcmp(c->items[i].key, key) == 0 &&
		    (queue == NULL ? c->items[i].queue == NULL
		                   : c->items[i].queue != NULL &&
		                         strcmp(c->items[i].queue, queue) == 0))
			return &c->items[i];
	}
	return NULL;
}

/* One line into c; -1 with err set. */
static int
parse_line(struct conf *c, char *line, int lineno, char **section, char *err,
    size_t errlen)
{
	char *s = trim(line), *eq, *key, *value, *end;
	const struct conf_item *dup;
	struct conf_item *it;

	if (*s == '\0' || *s == '#')
		return 0;
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != '\0' ||
		    strncmp(s, "[queue", 6) != 0 ||
		    (s[6] != ' ' && s[6] != '\t')) {
			snprintf(err, errlen,
			    "%s:%d: expected a section header [queue NAME]",
			    c->path, lineno);
			return -1;
		}
		*end = '\0';
		value = trim(s + 6);
		if (!queue_valid(value)) {
			snprintf(err, errlen,
			    "%s:%d: a queue name is 1 to %d letters, digits, "
			    "'_', '.' or '-'",
			    c->path, lineno, CONF_QUEUE_NAME_MAX);
			return -1;
		}
		free(*section);
		*section = xstrdup(value);
		return 0;
	}
	if ((eq = strchr(s, '=')) == NULL) {
		snprintf(err, errlen, "%s:%d: expected key = value", c->path,
		    lineno);
		return -1;
	}
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (!key_valid(key)) {
		snprintf(err, errlen,
		    "%s:%d: \"%.64s\" is not a key (lower case letters, "
		    "digits and '-', as the long options)",
		    c->path, lineno, key);
		return -1;
	}
	if (value[0] == '"') {
		end = value + strlen(value) - 1;
		if (end == value || *end != '"') {
			snprintf(err, errlen, "%s:%d: unterminated quote",
			    c->path, lineno);
			return -1;
		}
		*end = '\0';
		value++;
	}
	if ((dup = find(c, *section, key)) != NULL) {
		snprintf(err, errlen, "%s:%d: %s is already set on line %d",
		    c->path, lineno, key, dup->line);
		return -1;
	}
	c->items = xreallocarray(c->items, c->n + 1, sizeof(*c->items));
	it = &c->items[c->n++];
	it->queue = *section != NULL ? xstrdup(*section) : NULL;
	it->key = xstrdup(key);
	it->value = xstrdup(value);
	it->line = lineno;
	return 0;
}

struct conf *
conffile_read(const char *path, char *err, size_t errlen)
{
	struct conf *c;
	char line[CONF_LINE_MAX + 2], *section = NULL;
	int lineno = 0, r = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	while (r == 0 && fgets(line, sizeof line, f) != NULL) {
		lineno++;
		if (strlen(line) > CONF_LINE_MAX) {
			snprintf(err, errlen,
			    "%s:%d: line longer than %d bytes", path, lineno,
			    CONF_LINE_MAX);
			r = -1;
			break;
		}
		r = parse_line(c, line, lineno, &section, err, errlen);
	}
	if (r == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		r = -1;
	}
	fclose(f);
	free(section);
	if (r != 0) {
		conffile_free(c);
		return NULL;
	}
	return c;
}

void
conffile_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->items[i].queue);
		free(c->items[i].key);
		free(c->items[i].value);
	}
	free(c->items);
	free(c->path);
	free(c);
}
