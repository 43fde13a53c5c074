#include "cluster/stop.h"

#include <string.h>

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_ask(int sig)
{
    (void)sig;
    stop_asked = 1;
}

static void install(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler; /* no SA_RESTART: zmq_poll returns at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

volatile sig_atomic_t *cluster_stop_on_signals(void)
{
    install(on_signal);
    return &stop_requested;
}

volatile sig_atomic_t *cluster_stop_asked_on_signals(void)
{
    install(on_ask);
    return &stop_asked;
}
