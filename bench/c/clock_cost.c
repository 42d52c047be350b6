/* What one clock reading costs, for BENCHMARKS.md's "What the statistics
 * cost": CLOCK_MONOTONIC (Instant::now, what the timed loop reads twice per
 * turn) against CLOCK_MONOTONIC_COARSE (what it reads after each callback).
 *
 *   cc -O2 -o /tmp/clock_cost bench/c/clock_cost.c && /tmp/clock_cost
 */
#include <stdio.h>
#include <time.h>

static double ns_per_call(clockid_t clock, long calls) {
    struct timespec start, end, t;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < calls; i++) {
        clock_gettime(clock, &t);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    return ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / calls;
}

int main(void) {
    const long calls = 10 * 1000 * 1000;
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    printf("CLOCK_MONOTONIC        %.1f ns per reading\n", ns_per_call(CLOCK_MONOTONIC, calls));
    printf("CLOCK_MONOTONIC_COARSE %.1f ns per reading (resolution %.1f ms)\n",
           ns_per_call(CLOCK_MONOTONIC_COARSE, calls), res.tv_nsec / 1e6);
    return 0;
}
