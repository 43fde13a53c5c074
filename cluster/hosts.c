#include "cluster/hosts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

bool hosts_is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0 ||
           strcmp(host, "localhost.localdomain") == 0;
}

/* "A.B.C.D/N" into net and mask (host order); false when text is not of that form. */
static bool parse_subnet(const char *text, uint32_t *net, uint32_t *mask)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    if (!slash || (size_t)(slash - text) >= sizeof addr) {
        return false;
    }
    memcpy(addr, text, (size_t)(slash - text));
    addr[slash - text] = '\0';
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    struct in_addr in;
    if (*end || end == slash + 1 || bits < 0 || bits > 32 || inet_pton(AF_INET, addr, &in) != 1) {
        return false;
    }
    *mask = bits == 0 ? 0 : 0xFFFFFFFFu << (32 - bits);
    *net = ntohl(in.s_addr) & *mask;
    return true;
}

/* This machine's IPv4 address in net/mask into out. */
static int address_in(const char *subnet, uint32_t net, uint32_t mask, char *out, size_t cap,
                      shoal_err *err)
{
    struct ifaddrs *all = NULL;
    if (getifaddrs(&all) != 0) {
        return shoal_err_set(err, SHOAL_EIO, "cannot list this machine's addresses: %s",
                             strerror(errno));
    }
    char seen[512] = "";
    size_t used = 0;
    int rc = SHOAL_ENOTFOUND;
    for (struct ifaddrs *i = all; i && rc != SHOAL_OK; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) {
            continue;
        }
        struct in_addr a = ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a, text, sizeof text);
        if ((ntohl(a.s_addr) & mask) == net) {
            snprintf(out, cap, "%s", text);
            rc = SHOAL_OK;
        } else if (used < sizeof seen) {
            int w = snprintf(seen + used, sizeof seen - used, "%s%s", used ? ", " : "", text);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    freeifaddrs(all);
    if (rc != SHOAL_OK) {
        char host[HOSTS_NAME_MAX] = "?";
        gethostname(host, sizeof host - 1);
        shoal_err_set(err, SHOAL_ENOTFOUND,
                      "cluster.advertise_host = %s: host %s has no address in that subnet "
                      "(it has %s)", subnet, host, used ? seen : "none");
    }
    return rc;
}

int hosts_advertised(const char *bind_host, const char *advertise_host, char *out, size_t cap,
                     shoal_err *err)
{
    if (strcmp(bind_host, "auto") != 0) {
        snprintf(out, cap, "%s", bind_host);
        return SHOAL_OK;
    }
    uint32_t net, mask;
    if (advertise_host[0] && parse_subnet(advertise_host, &net, &mask)) {
        return address_in(advertise_host, net, mask, out, cap, err);
    }
    if (advertise_host[0]) {
        snprintf(out, cap, "%s", advertise_host);
        return SHOAL_OK;
    }
    char host[HOSTS_NAME_MAX];
    if (gethostname(host, sizeof host) != 0) {
        return shoal_err_set(err, SHOAL_EIO, "gethostname: %s", strerror(errno));
    }
    host[sizeof host - 1] = '\0';
    snprintf(out, cap, "%s", host);
    return SHOAL_OK;
}

int hosts_check_resolves(const char *host, const char *what, shoal_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (res) {
        freeaddrinfo(res);
    }
    if (gai == 0) {
        return SHOAL_OK;
    }
    char here[HOSTS_NAME_MAX] = "?";
    gethostname(here, sizeof here - 1);
    return shoal_err_set(err, SHOAL_EINVAL,
                         "the host name '%s' of %s does not resolve on %s (%s); add it to DNS "
                         "or /etc/hosts on every machine, or advertise addresses: "
                         "--set cluster.advertise_host=SUBNET/BITS (e.g. 10.0.0.0/24)",
                         host, what, here, gai_strerror(gai));
}

int hosts_hostfile_names_others(const char *path, char *other, size_t cap, shoal_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        shoal_err_set(err, SHOAL_EIO, "hostfile %s: %s", path, strerror(errno));
        return -1;
    }
    char self[HOSTS_NAME_MAX] = "";
    gethostname(self, sizeof self - 1);
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char name[HOSTS_NAME_MAX];
        if (sscanf(line, " %255[^ \t\r\n#]", name) != 1) {
            continue;
        }
        if (!hosts_is_loopback(name) && strcmp(name, self) != 0) {
            snprintf(other, cap, "%s", name);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

int hosts_split_words(char *text, char **words, size_t cap, size_t *n, shoal_err *err)
{
    *n = 0;
    char *r = text, *w = text;
    while (*r) {
        while (*r == ' ' || *r == '\t' || *r == '\n') {
            r++;
        }
        if (!*r) {
            break;
        }
        if (*n >= cap) {
            return shoal_err_set(err, SHOAL_EINVAL, "more than %zu mpirun arguments", cap);
        }
        words[(*n)++] = w;
        while (*r && *r != ' ' && *r != '\t' && *r != '\n') {
            if (*r == '\'' || *r == '"') {
                char q = *r++;
                while (*r && *r != q) {
                    *w++ = *r++;
                }
                if (*r != q) {
                    return shoal_err_set(err, SHOAL_EINVAL, "unterminated %c in mpirun arguments",
                                         q);
                }
                r++;
            } else {
                *w++ = *r++;
            }
        }
        /* w never passes r, so the terminator overwrites a consumed byte */
        char *next = *r ? r + 1 : r;
        *w = '\0';
        r = next;
        w = next;
    }
    return SHOAL_OK;
}
