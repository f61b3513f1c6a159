package dev.cogvlm4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code C[n, m] = X[n, k] · W[m, k]ᵀ} for prompt-sized {@code n}, organised as in BLIS. For each k-block the
 * activations are packed into tiles of {@link #MR} rows laid out k-major; each thread then widens (or dequantizes)
 * a panel of {@link #NR} weight rows, also k-major, into a buffer that stays in L2, and runs the micro-kernel over
 * every activation tile: one broadcast activation per row times two weight vectors, an {@code MR × NR} block of C in
 * sixteen vector registers. Each pair of vector loads feeds sixteen fused multiply-adds, and no horizontal sums are
 * needed. Weights of any storage type pay their conversion once per panel, not once per activation row.
 */
final class Gemm {
    private static final VectorSpecies<Float> F = VectorOps.F;
    /** Activation rows per micro-tile. */
    static final int MR = 8;
    /** Weight rows (output columns) per panel: two vectors. */
    static final int NR = 2 * VectorOps.F.length();
    /**
     * Longest k-block: its panel ({@code KC·NR} floats, 512 KB) still sits in a 1 MB L2. Every k-block is one more
     * pass of loads and stores over C, so blocks are as long as the packed activations allow (see {@link #kBlock}).
     */
    static final int KC = 4096;
    /** Shortest k-block the rule picks. */
    private static final int KC_MIN = 768;
    /**
     * Bytes of packed activations ({@code n × kc} floats) that every panel streams through: measured on the 2-core
     * AVX-512 machine (4096 × 4096 weights, 2026-11-26), k-blocks of 1,536-4,096 lift 512 rows from about 75% to
     * 80-84% of the FMA peak over blocks of 768, while 1,248 rows at 4,096 (20 MB of activations) fell to 60%.
     */
    private static final long ACTIVATION_BUDGET = 4L << 20;
    /** A fixed k-block instead of the rule ({@code -Dcogvlm4j.kc}), for tuning. */
    private static final int KC_FIXED = Integer.getInteger("cogvlm4j.kc", 0);
    /** Row stride of the widening scratch: not a multiple of 4 KB, so its rows do not share cache sets. */
    private static final int ROW_STRIDE = KC + 16;

    private static final ThreadLocal<float[]> PANEL = ThreadLocal.withInitial(() -> new float[KC * NR]);
    private static final ThreadLocal<float[]> ROWS = ThreadLocal.withInitial(() -> new float[NR * ROW_STRIDE]);
    private static final ThreadLocal<float[]> TILES = ThreadLocal.withInitial(() -> new float[0]);

    private Gemm() {
    }

    static void matmul(float[] x, int n, Tensor w, float[] bias, float[] out) {
        int m = w.rows();
        int k = w.cols();
        blocked(n, k, m, (kb, kc, ap, from, to) -> packActivations(x, n, k, kb, kc, ap, from, to),
                (j0, nr, kb, kc, wp) -> packWeights(w, k, j0, nr, kb, kc, wp, ROWS.get()), out, false);
        if (bias != null) {
            // x·1 + y is exactly x + y: the same bits as a plain loop, on every thread.
            Parallel.ranges(n, 1, 1, (from, to) -> {
                for (int i = from; i < to; i++) {
                    VectorOps.axpy(1f, bias, 0, out, i * m, m);
                }
            });
        }
    }

    /**
     * {@code c[n, m] = A·Bᵀ} (or {@code c += A·Bᵀ} with {@code accumulate}) for float blocks in either layout, on the
     * same packing and micro-kernel as {@link #matmul}: {@code A[i, t]} is {@code a[i·k + t]}, or {@code a[t·n + i]}
     * when {@code aTransposed}; {@code B[j, t]} is {@code b[j·k + t]}, or {@code b[t·m + j]} when
     * {@code bTransposed}. A transposed operand costs nothing extra: its packing copies contiguous runs instead of
     * gathering. Each k-block's sums are added to C once, so accumulating over one block gives the same bits as
     * computing the product apart and adding it.
     */
    static void gemm(float[] a, boolean aTransposed, float[] b, boolean bTransposed, int n, int k, int m, float[] c,
                     boolean accumulate) {
        if (n == 0 || m == 0) {
            return;
        }
        if (k == 0) {
            if (!accumulate) {
                java.util.Arrays.fill(c, 0, n * m, 0f);
            }
            return;
        }
        blocked(n, k, m, aTransposed
                        ? (kb, kc, ap, from, to) -> packTransposed(a, n, kb, kc, ap, from, to)
                        : (kb, kc, ap, from, to) -> packActivations(a, n, k, kb, kc, ap, from, to),
                bTransposed
                        ? (j0, nr, kb, kc, wp) -> packPanelTransposed(b, m, j0, nr, kb, kc, wp)
                        : (j0, nr, kb, kc, wp) -> packRows(b, k, j0, nr, kb, kc, wp, ROWS.get()),
                c, accumulate);
    }

    /** Packs activation tiles {@code from..to} of one k-block into the k-major tile buffer. */
    private interface TilePacker {
        void pack(int kb, int kc, float[] ap, int tileFrom, int tileTo);
    }

    /** Packs the weight panel of output columns {@code j0..j0+nr} over one k-block. */
    private interface PanelPacker {
        void pack(int j0, int nr, int kb, int kc, float[] wp);
    }

    /**
     * The blocked loop shared by every product: per k-block, activation tiles are packed across the pool, then each
     * thread packs a panel of {@link #NR} output columns and runs the micro-kernel over every tile. C is overwritten
     * by the first k-block unless {@code accumulate}; later blocks add to it.
     */
    private static void blocked(int n, int k, int m, TilePacker packTiles, PanelPacker packPanel, float[] c,
                                boolean accumulate) {
        int tiles = (n + MR - 1) / MR;
        int panels = (m + NR - 1) / NR;
        int block = kBlock(tiles * MR, k);
        float[] ap = TILES.get();
        if (ap.length < tiles * MR * block) {
            ap = new float[tiles * MR * block];
            TILES.set(ap);
        }
        float[] a = ap;
        int parts = Math.min(tiles, 4 * Parallel.threads());
        int per = (tiles + parts - 1) / parts;
        for (int kb = 0; kb < k; kb += block) {
            int kc = Math.min(block, k - kb);
            int from = kb;
            Parallel.range(parts, part -> packTiles.pack(from, kc, a, part * per, Math.min(tiles, (part + 1) * per)));
            boolean first = kb == 0 && !accumulate;
            Parallel.range(panels, p -> {
                int j0 = p * NR;
                int nr = Math.min(NR, m - j0);
                float[] wp = PANEL.get();
                packPanel.pack(j0, nr, from, kc, wp);
                for (int tile = 0; tile < tiles; tile++) {
                    int rows = Math.min(MR, n - tile * MR);
                    micro(a, tile * MR * kc, wp, kc, c, tile * MR * m + j0, m, rows, nr, first);
                }
            });
        }
    }

    /**
     * The k-block for {@code rows} packed activation rows: the longest, up to {@link #KC}, whose packed activations
     * fit {@link #ACTIVATION_BUDGET} (at least {@link #KC_MIN}), then shortened so that k splits into equal blocks
     * (rounded up to 16 columns, the transposition's step).
     */
    static int kBlock(int rows, int k) {
        int kc = KC_FIXED > 0 ? Math.min(KC_FIXED, KC)
                : (int) Math.clamp(ACTIVATION_BUDGET / (4L * Math.max(1, rows)) / 256 * 256, KC_MIN, KC);
        int blocks = (k + kc - 1) / kc;
        return Math.max(1, Math.min(k, ((k + blocks - 1) / blocks + 15) / 16 * 16));
    }

    /** {@code ap[(tile·kc + t)·MR + i] = a[(kb + t)·n + tile·MR + i]}: A stored k-major, rows past n zero. */
    private static void packTransposed(float[] a, int n, int kb, int kc, float[] ap, int tileFrom, int tileTo) {
        for (int tile = tileFrom; tile < tileTo; tile++) {
            int base = tile * MR * kc;
            int r0 = tile * MR;
            int rows = Math.min(MR, n - r0);
            for (int t = 0; t < kc; t++) {
                int src = (kb + t) * n + r0;
                int dst = base + t * MR;
                if (rows == MR) {
                    // Eight plain moves: a call to arraycopy costs more than the copy at this size.
                    ap[dst] = a[src];
                    ap[dst + 1] = a[src + 1];
                    ap[dst + 2] = a[src + 2];
                    ap[dst + 3] = a[src + 3];
                    ap[dst + 4] = a[src + 4];
                    ap[dst + 5] = a[src + 5];
                    ap[dst + 6] = a[src + 6];
                    ap[dst + 7] = a[src + 7];
                } else {
                    for (int i = 0; i < MR; i++) {
                        ap[dst + i] = i < rows ? a[src + i] : 0f;
                    }
                }
            }
        }
    }

    /** {@code wp[t·NR + r] = b[(kb + t)·m + j0 + r]}: B stored k-major, columns past m zero. */
    private static void packPanelTransposed(float[] b, int m, int j0, int nr, int kb, int kc, float[] wp) {
        int half = F.length();
        VectorMask<Float> low = F.indexInRange(0, nr);
        VectorMask<Float> high = F.indexInRange(half, nr);
        for (int t = 0; t < kc; t++) {
            int src = (kb + t) * m + j0;
            FloatVector.fromArray(F, b, src, low).intoArray(wp, t * NR);
            FloatVector.fromArray(F, b, src + half, high).intoArray(wp, t * NR + half);
        }
    }

    /** {@link #packWeights} for a float block held in an array: rows copied whole, then gathered k-major. */
    private static void packRows(float[] b, int k, int j0, int nr, int kb, int kc, float[] wp, float[] rows) {
        for (int r = 0; r < nr; r++) {
            System.arraycopy(b, (j0 + r) * k + kb, rows, r * ROW_STRIDE, kc);
        }
        gatherPanel(rows, nr, kc, wp);
    }

    /** {@code ap[(tile·kc + t)·MR + i] = x[tile·MR + i, kb + t]}, rows past n zero. */
    private static void packActivations(float[] x, int n, int k, int kb, int kc, float[] ap, int tileFrom,
                                        int tileTo) {
        for (int tile = tileFrom; tile < tileTo; tile++) {
            int base = tile * MR * kc;
            for (int i = 0; i < MR; i++) {
                int r = tile * MR + i;
                if (r < n) {
                    int xo = r * k + kb;
                    for (int t = 0; t < kc; t++) {
                        ap[base + t * MR + i] = x[xo + t];
                    }
                } else {
                    for (int t = 0; t < kc; t++) {
                        ap[base + t * MR + i] = 0f;
                    }
                }
            }
        }
    }

    /**
     * Widens rows {@code j0..j0+nr} over {@code kb..kb+kc} into {@code wp[t·NR + r]}, zero-padding missing rows:
     * rows are widened whole into a scratch block, then each k's {@code NR} values are gathered into two vectors.
     */
    private static void packWeights(Tensor w, int k, int j0, int nr, int kb, int kc, float[] wp, float[] rows) {
        for (int r = 0; r < nr; r++) {
            w.read((long) (j0 + r) * k + kb, rows, r * ROW_STRIDE, kc);
        }
        gatherPanel(rows, nr, kc, wp);
    }

    /** {@code wp[t·NR + r] = rows[r·ROW_STRIDE + t]}: the widened rows gathered k-major, missing rows zero. */
    private static void gatherPanel(float[] rows, int nr, int kc, float[] wp) {
        if (nr < NR) {
            java.util.Arrays.fill(rows, nr * ROW_STRIDE, NR * ROW_STRIDE, 0f);
        }
        int t = 0;
        if (F.length() == 16) {
            for (; t + 16 <= kc; t += 16) {
                transpose16(rows, t, wp);
            }
        }
        int half = F.length();
        for (; t < kc; t++) {
            FloatVector.fromArray(F, rows, t, GATHER, 0).intoArray(wp, t * NR);
            FloatVector.fromArray(F, rows, t, GATHER, half).intoArray(wp, t * NR + half);
        }
    }

    /*
     * Lane picks for the 16 × 16 transpose: in round b (8, 4, 2, 1) rows i and i + b (bit b of i clear) exchange
     * the lanes whose bit b differs from their own, through two-vector selections (indices 0-15 pick from the first
     * vector, 16-31 from the second; one vpermt2ps each).
     */
    private static final FloatVector KEEP8 = lanes(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    private static final FloatVector SWAP8 = lanes(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    private static final FloatVector KEEP4 = lanes(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    private static final FloatVector SWAP4 = lanes(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    private static final FloatVector KEEP2 = lanes(0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
    private static final FloatVector SWAP2 = lanes(2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    private static final FloatVector KEEP1 = lanes(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
    private static final FloatVector SWAP1 = lanes(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);

    private static FloatVector lanes(float... index) {
        return F.length() == 16 ? FloatVector.fromArray(F, index, 0) : null;
    }

    /**
     * Columns {@code t..t+16} of the panel's {@link #NR} scratch rows, k-major into {@code wp}, by 16 × 16 blocks
     * transposed in registers: four rounds, each swapping one bit of the row index with the same bit of the lane
     * index. Sixteen-lane vectors only. (A 16-lane gather per k, the general path, took two to three times as long.)
     */
    private static void transpose16(float[] rows, int t, float[] wp) {
        for (int r0 = 0; r0 < NR; r0 += 16) {
            int src = r0 * ROW_STRIDE + t;
            FloatVector v0 = FloatVector.fromArray(F, rows, src + 0 * ROW_STRIDE);
            FloatVector v1 = FloatVector.fromArray(F, rows, src + 1 * ROW_STRIDE);
            FloatVector v2 = FloatVector.fromArray(F, rows, src + 2 * ROW_STRIDE);
            FloatVector v3 = FloatVector.fromArray(F, rows, src + 3 * ROW_STRIDE);
            FloatVector v4 = FloatVector.fromArray(F, rows, src + 4 * ROW_STRIDE);
            FloatVector v5 = FloatVector.fromArray(F, rows, src + 5 * ROW_STRIDE);
            FloatVector v6 = FloatVector.fromArray(F, rows, src + 6 * ROW_STRIDE);
            FloatVector v7 = FloatVector.fromArray(F, rows, src + 7 * ROW_STRIDE);
            FloatVector v8 = FloatVector.fromArray(F, rows, src + 8 * ROW_STRIDE);
            FloatVector v9 = FloatVector.fromArray(F, rows, src + 9 * ROW_STRIDE);
            FloatVector v10 = FloatVector.fromArray(F, rows, src + 10 * ROW_STRIDE);
            FloatVector v11 = FloatVector.fromArray(F, rows, src + 11 * ROW_STRIDE);
            FloatVector v12 = FloatVector.fromArray(F, rows, src + 12 * ROW_STRIDE);
            FloatVector v13 = FloatVector.fromArray(F, rows, src + 13 * ROW_STRIDE);
            FloatVector v14 = FloatVector.fromArray(F, rows, src + 14 * ROW_STRIDE);
            FloatVector v15 = FloatVector.fromArray(F, rows, src + 15 * ROW_STRIDE);
            FloatVector a0 = KEEP8.selectFrom(v0, v8);
            FloatVector a8 = SWAP8.selectFrom(v0, v8);
            FloatVector a1 = KEEP8.selectFrom(v1, v9);
            FloatVector a9 = SWAP8.selectFrom(v1, v9);
            FloatVector a2 = KEEP8.selectFrom(v2, v10);
            FloatVector a10 = SWAP8.selectFrom(v2, v10);
            FloatVector a3 = KEEP8.selectFrom(v3, v11);
            FloatVector a11 = SWAP8.selectFrom(v3, v11);
            FloatVector a4 = KEEP8.selectFrom(v4, v12);
            FloatVector a12 = SWAP8.selectFrom(v4, v12);
            FloatVector a5 = KEEP8.selectFrom(v5, v13);
            FloatVector a13 = SWAP8.selectFrom(v5, v13);
            FloatVector a6 = KEEP8.selectFrom(v6, v14);
            FloatVector a14 = SWAP8.selectFrom(v6, v14);
            FloatVector a7 = KEEP8.selectFrom(v7, v15);
            FloatVector a15 = SWAP8.selectFrom(v7, v15);
            FloatVector b0 = KEEP4.selectFrom(a0, a4);
            FloatVector b4 = SWAP4.selectFrom(a0, a4);
            FloatVector b1 = KEEP4.selectFrom(a1, a5);
            FloatVector b5 = SWAP4.selectFrom(a1, a5);
            FloatVector b2 = KEEP4.selectFrom(a2, a6);
            FloatVector b6 = SWAP4.selectFrom(a2, a6);
            FloatVector b3 = KEEP4.selectFrom(a3, a7);
            FloatVector b7 = SWAP4.selectFrom(a3, a7);
            FloatVector b8 = KEEP4.selectFrom(a8, a12);
            FloatVector b12 = SWAP4.selectFrom(a8, a12);
            FloatVector b9 = KEEP4.selectFrom(a9, a13);
            FloatVector b13 = SWAP4.selectFrom(a9, a13);
            FloatVector b10 = KEEP4.selectFrom(a10, a14);
            FloatVector b14 = SWAP4.selectFrom(a10, a14);
            FloatVector b11 = KEEP4.selectFrom(a11, a15);
            FloatVector b15 = SWAP4.selectFrom(a11, a15);
            FloatVector c0 = KEEP2.selectFrom(b0, b2);
            FloatVector c2 = SWAP2.selectFrom(b0, b2);
            FloatVector c1 = KEEP2.selectFrom(b1, b3);
            FloatVector c3 = SWAP2.selectFrom(b1, b3);
            FloatVector c4 = KEEP2.selectFrom(b4, b6);
            FloatVector c6 = SWAP2.selectFrom(b4, b6);
            FloatVector c5 = KEEP2.selectFrom(b5, b7);
            FloatVector c7 = SWAP2.selectFrom(b5, b7);
            FloatVector c8 = KEEP2.selectFrom(b8, b10);
            FloatVector c10 = SWAP2.selectFrom(b8, b10);
            FloatVector c9 = KEEP2.selectFrom(b9, b11);
            FloatVector c11 = SWAP2.selectFrom(b9, b11);
            FloatVector c12 = KEEP2.selectFrom(b12, b14);
            FloatVector c14 = SWAP2.selectFrom(b12, b14);
            FloatVector c13 = KEEP2.selectFrom(b13, b15);
            FloatVector c15 = SWAP2.selectFrom(b13, b15);
            FloatVector d0 = KEEP1.selectFrom(c0, c1);
            FloatVector d1 = SWAP1.selectFrom(c0, c1);
            FloatVector d2 = KEEP1.selectFrom(c2, c3);
            FloatVector d3 = SWAP1.selectFrom(c2, c3);
            FloatVector d4 = KEEP1.selectFrom(c4, c5);
            FloatVector d5 = SWAP1.selectFrom(c4, c5);
            FloatVector d6 = KEEP1.selectFrom(c6, c7);
            FloatVector d7 = SWAP1.selectFrom(c6, c7);
            FloatVector d8 = KEEP1.selectFrom(c8, c9);
            FloatVector d9 = SWAP1.selectFrom(c8, c9);
            FloatVector d10 = KEEP1.selectFrom(c10, c11);
            FloatVector d11 = SWAP1.selectFrom(c10, c11);
            FloatVector d12 = KEEP1.selectFrom(c12, c13);
            FloatVector d13 = SWAP1.selectFrom(c12, c13);
            FloatVector d14 = KEEP1.selectFrom(c14, c15);
            FloatVector d15 = SWAP1.selectFrom(c14, c15);
            d0.intoArray(wp, (t + 0) * NR + r0);
            d1.intoArray(wp, (t + 1) * NR + r0);
            d2.intoArray(wp, (t + 2) * NR + r0);
            d3.intoArray(wp, (t + 3) * NR + r0);
            d4.intoArray(wp, (t + 4) * NR + r0);
            d5.intoArray(wp, (t + 5) * NR + r0);
            d6.intoArray(wp, (t + 6) * NR + r0);
            d7.intoArray(wp, (t + 7) * NR + r0);
            d8.intoArray(wp, (t + 8) * NR + r0);
            d9.intoArray(wp, (t + 9) * NR + r0);
            d10.intoArray(wp, (t + 10) * NR + r0);
            d11.intoArray(wp, (t + 11) * NR + r0);
            d12.intoArray(wp, (t + 12) * NR + r0);
            d13.intoArray(wp, (t + 13) * NR + r0);
            d14.intoArray(wp, (t + 14) * NR + r0);
            d15.intoArray(wp, (t + 15) * NR + r0);
        }
    }

    /** Offsets of the same k in consecutive rows of the scratch block. */
    private static final int[] GATHER = new int[NR];

    static {
        for (int r = 0; r < NR; r++) {
            GATHER[r] = r * ROW_STRIDE;
        }
    }

    /** An MR × NR block of C ({@code rows × nr} of it stored) from one packed activation tile and the panel. */
    static void micro(float[] ap, int ao, float[] wp, int kc, float[] c, int co, int cs, int rows, int nr,
                              boolean first) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F), c41 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F), c51 = FloatVector.zero(F);
        FloatVector c60 = FloatVector.zero(F), c61 = FloatVector.zero(F);
        FloatVector c70 = FloatVector.zero(F), c71 = FloatVector.zero(F);
        int half = F.length();
        for (int t = 0; t < kc; t++) {
            FloatVector b0 = FloatVector.fromArray(F, wp, t * NR);
            FloatVector b1 = FloatVector.fromArray(F, wp, t * NR + half);
            int a0 = ao + t * MR;
            FloatVector a = FloatVector.broadcast(F, ap[a0]);
            c00 = a.fma(b0, c00);
            c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(F, ap[a0 + 1]);
            c10 = a.fma(b0, c10);
            c11 = a.fma(b1, c11);
            a = FloatVector.broadcast(F, ap[a0 + 2]);
            c20 = a.fma(b0, c20);
            c21 = a.fma(b1, c21);
            a = FloatVector.broadcast(F, ap[a0 + 3]);
            c30 = a.fma(b0, c30);
            c31 = a.fma(b1, c31);
            a = FloatVector.broadcast(F, ap[a0 + 4]);
            c40 = a.fma(b0, c40);
            c41 = a.fma(b1, c41);
            a = FloatVector.broadcast(F, ap[a0 + 5]);
            c50 = a.fma(b0, c50);
            c51 = a.fma(b1, c51);
            a = FloatVector.broadcast(F, ap[a0 + 6]);
            c60 = a.fma(b0, c60);
            c61 = a.fma(b1, c61);
            a = FloatVector.broadcast(F, ap[a0 + 7]);
            c70 = a.fma(b0, c70);
            c71 = a.fma(b1, c71);
        }
        // Stores stay in this method: a vector passed to a method the JIT does not inline is boxed.
        if (rows == MR && nr == NR) {
            if (!first) {
                c00 = c00.add(FloatVector.fromArray(F, c, co + 0 * cs));
                c01 = c01.add(FloatVector.fromArray(F, c, co + 0 * cs + half));
                c10 = c10.add(FloatVector.fromArray(F, c, co + 1 * cs));
                c11 = c11.add(FloatVector.fromArray(F, c, co + 1 * cs + half));
                c20 = c20.add(FloatVector.fromArray(F, c, co + 2 * cs));
                c21 = c21.add(FloatVector.fromArray(F, c, co + 2 * cs + half));
                c30 = c30.add(FloatVector.fromArray(F, c, co + 3 * cs));
                c31 = c31.add(FloatVector.fromArray(F, c, co + 3 * cs + half));
                c40 = c40.add(FloatVector.fromArray(F, c, co + 4 * cs));
                c41 = c41.add(FloatVector.fromArray(F, c, co + 4 * cs + half));
                c50 = c50.add(FloatVector.fromArray(F, c, co + 5 * cs));
                c51 = c51.add(FloatVector.fromArray(F, c, co + 5 * cs + half));
                c60 = c60.add(FloatVector.fromArray(F, c, co + 6 * cs));
                c61 = c61.add(FloatVector.fromArray(F, c, co + 6 * cs + half));
                c70 = c70.add(FloatVector.fromArray(F, c, co + 7 * cs));
                c71 = c71.add(FloatVector.fromArray(F, c, co + 7 * cs + half));
            }
            c00.intoArray(c, co + 0 * cs);
            c01.intoArray(c, co + 0 * cs + half);
            c10.intoArray(c, co + 1 * cs);
            c11.intoArray(c, co + 1 * cs + half);
            c20.intoArray(c, co + 2 * cs);
            c21.intoArray(c, co + 2 * cs + half);
            c30.intoArray(c, co + 3 * cs);
            c31.intoArray(c, co + 3 * cs + half);
            c40.intoArray(c, co + 4 * cs);
            c41.intoArray(c, co + 4 * cs + half);
            c50.intoArray(c, co + 5 * cs);
            c51.intoArray(c, co + 5 * cs + half);
            c60.intoArray(c, co + 6 * cs);
            c61.intoArray(c, co + 6 * cs + half);
            c70.intoArray(c, co + 7 * cs);
            c71.intoArray(c, co + 7 * cs + half);
            return;
        }
        float[] tmp = new float[MR * NR];
        c00.intoArray(tmp, 0 * NR);
        c01.intoArray(tmp, 0 * NR + half);
        c10.intoArray(tmp, 1 * NR);
        c11.intoArray(tmp, 1 * NR + half);
        c20.intoArray(tmp, 2 * NR);
        c21.intoArray(tmp, 2 * NR + half);
        c30.intoArray(tmp, 3 * NR);
        c31.intoArray(tmp, 3 * NR + half);
        c40.intoArray(tmp, 4 * NR);
        c41.intoArray(tmp, 4 * NR + half);
        c50.intoArray(tmp, 5 * NR);
        c51.intoArray(tmp, 5 * NR + half);
        c60.intoArray(tmp, 6 * NR);
        c61.intoArray(tmp, 6 * NR + half);
        c70.intoArray(tmp, 7 * NR);
        c71.intoArray(tmp, 7 * NR + half);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < nr; j++) {
                int ci = co + i * cs + j;
                c[ci] = first ? tmp[i * NR + j] : c[ci] + tmp[i * NR + j];
            }
        }
    }

    /**
     * A few dozen rows of X (a follow-up question, a short prompt): four weight rows at a time are widened into a
     * scratch block, then a 4×4 tile of dot products runs over the whole k with sixteen vector accumulators, so each
     * pair of loads feeds two FMAs and the horizontal sums happen once per tile. No transposed panel is packed: for
     * so few rows its cost would exceed the arithmetic.
     */
    static void rows(float[] x, int n, Tensor w, float[] bias, float[] out) {
        int m = w.rows();
        int k = w.cols();
        int groups = (m + 3) / 4;
        int chunk = Math.max(1, groups / (8 * Parallel.threads()));
        Parallel.range((groups + chunk - 1) / chunk, b -> {
            float[] rows = new float[4 * k];
            float[] tile = new float[16];
            int end = Math.min(groups, (b + 1) * chunk);
            for (int gi = b * chunk; gi < end; gi++) {
                int j0 = gi * 4;
                int nr = Math.min(4, m - j0);
                for (int r = 0; r < nr; r++) {
                    w.readRow(j0 + r, rows, r * k);
                }
                int i0 = 0;
                if (nr == 4) {
                    for (; i0 + 4 <= n; i0 += 4) {
                        dot4x4(x, i0 * k, k, rows, k, tile);
                        for (int i = 0; i < 4; i++) {
                            for (int r = 0; r < 4; r++) {
                                out[(i0 + i) * m + j0 + r] = tile[i * 4 + r] + (bias == null ? 0f : bias[j0 + r]);
                            }
                        }
                    }
                }
                for (; i0 < n; i0++) {
                    for (int r = 0; r < nr; r++) {
                        out[i0 * m + j0 + r] = VectorOps.dot(x, i0 * k, rows, r * k, k) + (bias == null ? 0f : bias[j0 + r]);
                    }
                }
            }
        });
    }

    /** {@code tile[i·4 + r] = x[i]·w[r]} for four rows of X (stride {@code k}) and four widened weight rows. */
    private static void dot4x4(float[] x, int xo, int k, float[] w, int ws, float[] tile) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F), c02 = FloatVector.zero(F), c03 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F), c12 = FloatVector.zero(F), c13 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F), c22 = FloatVector.zero(F), c23 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F), c32 = FloatVector.zero(F), c33 = FloatVector.zero(F);
        int upper = F.loopBound(k);
        int t = 0;
        for (; t < upper; t += F.length()) {
            FloatVector a0 = FloatVector.fromArray(F, x, xo + 0 * k + t);
            FloatVector a1 = FloatVector.fromArray(F, x, xo + 1 * k + t);
            FloatVector a2 = FloatVector.fromArray(F, x, xo + 2 * k + t);
            FloatVector a3 = FloatVector.fromArray(F, x, xo + 3 * k + t);
            FloatVector b0 = FloatVector.fromArray(F, w, 0 * ws + t);
            c00 = a0.fma(b0, c00);
            c10 = a1.fma(b0, c10);
            c20 = a2.fma(b0, c20);
            c30 = a3.fma(b0, c30);
            FloatVector b1 = FloatVector.fromArray(F, w, 1 * ws + t);
            c01 = a0.fma(b1, c01);
            c11 = a1.fma(b1, c11);
            c21 = a2.fma(b1, c21);
            c31 = a3.fma(b1, c31);
            FloatVector b2 = FloatVector.fromArray(F, w, 2 * ws + t);
            c02 = a0.fma(b2, c02);
            c12 = a1.fma(b2, c12);
            c22 = a2.fma(b2, c22);
            c32 = a3.fma(b2, c32);
            FloatVector b3 = FloatVector.fromArray(F, w, 3 * ws + t);
            c03 = a0.fma(b3, c03);
            c13 = a1.fma(b3, c13);
            c23 = a2.fma(b3, c23);
            c33 = a3.fma(b3, c33);
        }
        tile[0] = VectorOps.sumLanes(c00);
        tile[1] = VectorOps.sumLanes(c01);
        tile[2] = VectorOps.sumLanes(c02);
        tile[3] = VectorOps.sumLanes(c03);
        tile[4] = VectorOps.sumLanes(c10);
        tile[5] = VectorOps.sumLanes(c11);
        tile[6] = VectorOps.sumLanes(c12);
        tile[7] = VectorOps.sumLanes(c13);
        tile[8] = VectorOps.sumLanes(c20);
        tile[9] = VectorOps.sumLanes(c21);
        tile[10] = VectorOps.sumLanes(c22);
        tile[11] = VectorOps.sumLanes(c23);
        tile[12] = VectorOps.sumLanes(c30);
        tile[13] = VectorOps.sumLanes(c31);
        tile[14] = VectorOps.sumLanes(c32);
        tile[15] = VectorOps.sumLanes(c33);
        for (; t < k; t++) {
            for (int i = 0; i < 4; i++) {
                for (int r = 0; r < 4; r++) {
                    tile[i * 4 + r] += x[xo + i * k + t] * w[r * ws + t];
                }
            }
        }
    }

    /** Matrix-vector products for a few rows of X: each weight row is read once, in its stored type. */
    static void gemv(float[] x, int n, Tensor w, float[] bias, float[] out) {
        int m = w.rows();
        int k = w.cols();
        // A few large tasks per thread: fork-join costs about a microsecond per task, a row costs less.
        int chunk = Math.max(16, m / (8 * Parallel.threads()));
        // Without the level table, Q4_0's offset of 8 is applied through per-block sums of x, computed once per
        // activation row.
        float[][] sums = null;
        if (w instanceof QuantizedTensor.Q4_0 && !QuantizedTensor.Q4_0.LEVEL_TABLE) {
            sums = new float[n][];
            for (int i = 0; i < n; i++) {
                sums[i] = QuantizedTensor.blockSums(x, i * k, k);
            }
        }
        float[][] blockSums = sums;
        Parallel.range((m + chunk - 1) / chunk, b -> {
            int end = Math.min(m, (b + 1) * chunk);
            for (int j = b * chunk; j < end; j++) {
                float bj = bias == null ? 0f : bias[j];
                for (int i = 0; i < n; i++) {
                    float dot = blockSums != null ? ((QuantizedTensor.Q4_0) w).dot(j, x, i * k, blockSums[i]) : w.dot(j, x, i * k);
                    out[i * m + j] = dot + bj;
                }
            }
        });
    }
}
