/*
 * conffile: reading jobd.conf, the configuration file (jobd.conf(5)).
 *
 * The format is lines of "key = value"; "#" starts a comment line; blank
 * lines are skipped; "[queue NAME]" starts the settings of a queue, which
 * go on to the next section header.  Keys are the long options' names
 * (max-conns, log-level, ...).  Values run to the end of the line, with
 * surrounding blanks removed; a value may be put in double quotes to keep
 * them (no escapes).  A key given twice is an error, so a file means one
 * thing.  This module only reads the file; jobd.c gives the keys meaning.
 */
#ifndef JOBD_CONFFILE_H
#define JOBD_CONFFILE_H

#include <stddef.h>

struct conf_item {
	char *queue; /* the [queue NAME] it belongs to, or NULL: global */
	char *key;
	char *value;
	int line;
};

struct conf {
	char *path;
	struct conf_item *items;
	size_t n;
};

/*
 * Read path.  NULL with a message in err naming the file and line
 * ("/etc/jobd/jobd.conf:12: expected key = value").
 */
struct conf *conffile_read(const char *path, char *err, size_t errlen);
void conffile_free(struct conf *c);

#endif
