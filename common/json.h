/* Writing JSON by hand: the one piece that needs care is a string's escaping. Readers of what
 * shoal writes (eval.jsonl, `shoal status --json`) get valid JSON for any path or message.
 *
 *     json_put_string(stdout, "run \"x\"");   // "run \"x\""
 */
#ifndef SHOAL_COMMON_JSON_H
#define SHOAL_COMMON_JSON_H

#include <stdio.h>

/* Writes s as a JSON string: in quotes, with quotes, backslashes and control characters
 * escaped. */
void json_put_string(FILE *out, const char *s);

#endif
