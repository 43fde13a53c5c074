/* Writing JSON text: the one string escaper that every JSON writer of shoal uses (eval.jsonl,
 * the metadata of exported networks, `shoal status --json`), so that a name with a quote in it never breaks a file.
 *
 *     fputs("{\"env\": ", out);
 *     json_write_string(out, env_name);   // "minatar/breakout", quotes included
 */
#ifndef SHOAL_COMMON_JSON_H
#define SHOAL_COMMON_JSON_H

#include <stdio.h>

/* Writes s as a JSON string with its quotes: '"' and '\' escaped, control characters as \u00XX. */
void json_write_string(FILE *out, const char *s);

#endif
