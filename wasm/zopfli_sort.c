/* zopfli_sort.c -- included by build.py into zopfli's katajainen.c, after LeafComparator,
   in place of its qsort call (wpigz_sort_leaves).

   The leaves' keys are unique (weight << 9 | symbol index: katajainen.c makes them so for a
   stable order), so every correct sort leaves them in the same order and the code lengths,
   hence the bytes, do not depend on the algorithm. qsort through a comparator pointer is
   slow in wasm (an indirect call per comparison, memcpy per move: 10% of zopfli's
   instructions on text); this merge sort compares with LeafComparator's own expression,
   called directly so that it is inlined. */

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
