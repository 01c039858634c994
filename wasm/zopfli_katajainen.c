/* zopfli_katajainen.c -- included by build.py into zopfli's katajainen.c (after LeafComparator):
   two of its routines done the same way, faster in wasm. The output does not change by a byte.

   wpigz_sort_leaves replaces the qsort call. The leaves' keys are unique (weight << 9 | symbol
   index: katajainen.c makes them so for a stable order), so every correct sort leaves them in
   the same order. qsort through a comparator pointer is slow in wasm (an indirect call per
   comparison; zig's libc qsort cost 10% of zopfli's instructions on text); this merge sort
   compares with LeafComparator's own expression, called directly so that it is inlined. */

static void wpigz_merge_leaves(Node *a, size_t n, Node *tmp) {
    if (n < 12) {
        for (size_t i = 1; i < n; i++) {
            Node x = a[i];
            size_t j = i;
            for (; j > 0 && LeafComparator(&a[j - 1], &x) > 0; j--)
                a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    size_t half = n / 2, i = 0, j = half, k = 0;
    wpigz_merge_leaves(a, half, tmp);
    wpigz_merge_leaves(a + half, n - half, tmp);
    if (LeafComparator(&a[half - 1], &a[half]) <= 0)
        return;                         /* already in order */
    while (i < half && j < n)
        tmp[k++] = LeafComparator(&a[j], &a[i]) < 0 ? a[j++] : a[i++];
    while (i < half)
        tmp[k++] = a[i++];
    for (size_t m = 0; m < k; m++)      /* a[j..n) is already in place */
        a[m] = tmp[m];
}

static void wpigz_sort_leaves(Node *leaves, int numsymbols) {
    Node local[288], *tmp = (size_t)numsymbols <= 288 ? local : (Node *)malloc(numsymbols * sizeof(Node));
    wpigz_merge_leaves(leaves, (size_t)numsymbols, tmp);
    if (tmp != local)
        free(tmp);
}

/* BoundaryPM without recursion. The recursive one calls itself twice at the level below
   whenever a chain is made of the two lookahead chains of that level; in wasm each of those
   calls is costly (a stack check, registers saved), and it took 2.3x the time of pigz's native
   build. The same steps in the same order: a call at a level does its own work, then both calls
   at the level below run in turn, each with all of its own. So the next step is always the
   second call at the lowest level whose first call has run, or, with none, the end: bit L of
   `more` says that level L has its second call to come (no bit is ever set below the level
   being run, so the lowest set bit is the next level). */
static void wpigz_boundary_pm(Node *(*lists)[2], Node *leaves, int numsymbols, NodePool *pool, int index) {
    unsigned more = 0;
    int level = index;
    if (index >= 32) {                  /* maxbits is 15 at most in zopfli */
        BoundaryPM(lists, leaves, numsymbols, pool, index);
        return;
    }
    for (;;) {
        int lastcount = lists[level][1]->count;     /* count of the last chain of the list */
        if (level > 0 || lastcount < numsymbols) {
            Node *newchain = pool->next++, *oldchain = lists[level][1];
            lists[level][0] = oldchain;
            lists[level][1] = newchain;
            if (level == 0) {
                InitNode(leaves[lastcount].weight, lastcount + 1, 0, newchain);
            } else {
                size_t sum = lists[level - 1][0]->weight + lists[level - 1][1]->weight;
                if (lastcount < numsymbols && sum > leaves[lastcount].weight) {
                    InitNode(leaves[lastcount].weight, lastcount + 1, oldchain->tail, newchain);
                } else {
                    InitNode(sum, lastcount, lists[level - 1][1], newchain);
                    level--;            /* the two lookahead chains below, used up: */
                    more |= 1u << level;    /* two calls there, the first now */
                    continue;
                }
            }
        }
        if (more == 0)
            return;
        level = __builtin_ctz(more);
        more &= more - 1;
    }
}
