// accel OpenCL C 1.2 kernels. Every kernel takes the arena M (bytes) and
// a parameter block P (ints; floats stored as their bits). Offsets in P
// are in elements of the tensor's type.

// FT is the storage type of float32 tensors: half when the program is
// built with ACCEL_HALF (fp16 storage, fp32 arithmetic), else float. LD
// and ST read and write one element as a float.
#ifdef ACCEL_HALF
#define FT half
#define LD(p, i) vload_half((i), (p))
#define ST(p, i, v) vstore_half((v), (i), (p))
#else
#define FT float
#define LD(p, i) ((p)[i])
#define ST(p, i, v) ((p)[i] = (v))
#endif
#define F(off) ((__global FT *)M + (off))

float act(int op, float x, float a, float b) {
	switch (op) {
	case 0: return x;
	case 1: return x > 0.0f ? x : 0.0f;
	case 2: return 1.0f / (1.0f + exp(-x));
	case 3: return tanh(x);
	case 4: return exp(x);
	case 5: return log(x);
	case 6: return -x;
	case 7: return fabs(x);
	case 8: return sqrt(x);
	case 9: return erf(x);
	case 10: return x >= 0.0f ? x : a * x;
	case 11: return fmin(fmax(x, a), b);
	case 12: return fmax(0.0f, fmin(1.0f, a * x + b));
	case 13: return x * fmax(0.0f, fmin(1.0f, x / 6.0f + 0.5f));
	case 14: return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f));
	case 15: return 0.5f * x * (1.0f + tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
	case 16: return x >= 0.0f ? x : a * (exp(x) - 1.0f);
	case 17: return log(1.0f + exp(x));
	case 18: return 1.0f / x;
	case 19: return floor(x);
	case 20: return ceil(x);
	case 21: return sin(x);
	case 22: return cos(x);
	case 23: return x > 0.0f ? b * x : b * (a * exp(x) - a);
	case 24: return x / (1.0f + fabs(x));
	case 25: return x * (1.0f / (1.0f + exp(-a * x)));
	}
	return x;
}

// unary: P = {n, xoff, yoff, op, alpha, beta}
__kernel void unary(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	if (i >= P[0]) return;
	ST(F(P[2]), i, act(P[3], LD(F(P[1]), i), as_float(P[4]), as_float(P[5])));
}

// bcast maps flat output index i to input offsets through up to 6 dims.
// P[base] = rank, then dims[6], then strides of each input [6].
#define MAXR 6

float binop(int op, float x, float y) {
	switch (op) {
	case 0: return x + y;
	case 1: return x - y;
	case 2: return x * y;
	case 3: return x / y;
	case 4: return pow(x, y);
	case 5: return x >= 0.0f ? x : x * y; // PRelu
	case 6: return fmax(x, y);
	case 7: return fmin(x, y);
	case 8: return x == y ? 1.0f : 0.0f;
	case 9: return x > y ? 1.0f : 0.0f;
	case 10: return x < y ? 1.0f : 0.0f;
	case 11: return x >= y ? 1.0f : 0.0f;
	case 12: return x <= y ? 1.0f : 0.0f;
	}
	return x;
}

// binary: P = {n, aoff, boff, yoff, op, boolout, rank, dims[6], astr[6], bstr[6]}
__kernel void binary(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	if (i >= P[0]) return;
	int rank = P[6], r = i, ia = 0, ib = 0;
	for (int d = rank - 1; d >= 0; d--) {
		int c = r % P[7 + d];
		r /= P[7 + d];
		ia += c * P[7 + MAXR + d];
		ib += c * P[7 + 2 * MAXR + d];
	}
	float v = binop(P[4], LD(F(P[1]), ia), LD(F(P[2]), ib));
	if (P[5])
		(M + P[3])[i] = v != 0.0f;
	else
		ST(F(P[3]), i, v);
}

// where_f: P = {n, coff(bytes), xoff, yoff, outoff, rank, dims[6], cstr[6], xstr[6], ystr[6]}
__kernel void where_f(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	if (i >= P[0]) return;
	int rank = P[5], r = i, ic = 0, ix = 0, iy = 0;
	for (int d = rank - 1; d >= 0; d--) {
		int c = r % P[6 + d];
		r /= P[6 + d];
		ic += c * P[6 + MAXR + d];
		ix += c * P[6 + 2 * MAXR + d];
		iy += c * P[6 + 3 * MAXR + d];
	}
	ST(F(P[4]), i, (M + P[1])[ic] ? LD(F(P[2]), ix) : LD(F(P[3]), iy));
}

// gemm: Y[b,m,n] = act(alpha * sum_k A[b,m,k] B[b,k,n] + beta * C[m,n])
// P = {M, N, K, aoff, boff, coff(-1: none), yoff,
//      a_bs, a_sm, a_sk, b_bs, b_sk, b_sn, c_sm, c_sn, y_bs,
//      alpha, beta, act, act_a, act_b}
#define TS 16
__kernel __attribute__((reqd_work_group_size(TS, TS, 1)))
void gemm(__global uchar *M, __global const int *P) {
	__local float As[TS][TS + 1];
	__local float Bs[TS][TS + 1];
	int Mr = P[0], Nc = P[1], K = P[2];
	int n = get_global_id(0), m = get_global_id(1), b = get_global_id(2);
	int ln = get_local_id(0), lm = get_local_id(1);
	__global const FT *A = F(P[3]) + b * P[7];
	__global const FT *B = F(P[4]) + b * P[10];
	float acc = 0.0f;
	for (int k0 = 0; k0 < K; k0 += TS) {
		int ka = k0 + ln, kb = k0 + lm;
		int am = get_group_id(1) * TS + lm;
		As[lm][ln] = (am < Mr && ka < K) ? LD(A, am * P[8] + ka * P[9]) : 0.0f;
		Bs[lm][ln] = (kb < K && n < Nc) ? LD(B, kb * P[11] + n * P[12]) : 0.0f;
		barrier(CLK_LOCAL_MEM_FENCE);
		for (int k = 0; k < TS; k++)
			acc += As[lm][k] * Bs[k][ln];
		barrier(CLK_LOCAL_MEM_FENCE);
	}
	if (m >= Mr || n >= Nc) return;
	float v = as_float(P[16]) * acc;
	if (P[5] >= 0)
		v += as_float(P[17]) * LD(F(P[5]), m * P[13] + n * P[14]);
	ST(F(P[6]), b * P[15] + m * Nc + n, act(P[18], v, as_float(P[19]), as_float(P[20])));
}

// conv2d: one work item per output element (n, oc, oh, ow).
// P = {N, C, H, W, OC, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, group,
//      xoff, woff, boff(-1: none), yoff, act, act_a, act_b}
__kernel void conv2d(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	int N = P[0], C = P[1], H = P[2], W = P[3], OC = P[4], OH = P[5], OW = P[6];
	if (i >= N * OC * OH * OW) return;
	int KH = P[7], KW = P[8], sh = P[9], sw = P[10], ph = P[11], pw = P[12], dh = P[13], dw = P[14], G = P[15];
	int ow = i % OW, t = i / OW;
	int oh = t % OH; t /= OH;
	int oc = t % OC, n = t / OC;
	int cg = C / G, ocg = OC / G, g = oc / ocg;
	__global const FT *x = F(P[16]) + (n * C + g * cg) * H * W;
	__global const FT *w = F(P[17]) + oc * cg * KH * KW;
	float acc = P[18] >= 0 ? LD(F(P[18]), oc) : 0.0f;
	int ih0 = oh * sh - ph, iw0 = ow * sw - pw;
	for (int c = 0; c < cg; c++) {
		for (int kh = 0; kh < KH; kh++) {
			int ih = ih0 + kh * dh;
			if (ih < 0 || ih >= H) continue;
			__global const FT *xr = x + (c * H + ih) * W;
			__global const FT *wr = w + (c * KH + kh) * KW;
			for (int kw = 0; kw < KW; kw++) {
				int iw = iw0 + kw * dw;
				if (iw >= 0 && iw < W) acc += LD(xr, iw) * LD(wr, kw);
			}
		}
	}
	ST(F(P[19]), i, act(P[20], acc, as_float(P[21]), as_float(P[22])));
}

// pool2d: P = {NC, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, mode, xoff, yoff, peh, pew}
// mode 0: max, 1: average over valid elements, 2: average counting pads.
__kernel void pool2d(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	int NC = P[0], H = P[1], W = P[2], OH = P[3], OW = P[4];
	if (i >= NC * OH * OW) return;
	int KH = P[5], KW = P[6], sh = P[7], sw = P[8], ph = P[9], pw = P[10], dh = P[11], dw = P[12], mode = P[13];
	int ow = i % OW, t = i / OW, oh = t % OH, nc = t / OH;
	__global const FT *x = F(P[14]) + nc * H * W;
	float acc = mode == 0 ? -INFINITY : 0.0f;
	int cnt = 0, padcnt = 0;
	for (int kh = 0; kh < KH; kh++) {
		int ih = oh * sh - ph + kh * dh;
		for (int kw = 0; kw < KW; kw++) {
			int iw = ow * sw - pw + kw * dw;
			if (ih >= -ph && ih < H + P[16] && iw >= -pw && iw < W + P[17]) padcnt++;
			if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
			float v = LD(x, ih * W + iw);
			if (mode == 0) acc = fmax(acc, v); else acc += v;
			cnt++;
		}
	}
	if (mode == 1) acc = cnt ? acc / cnt : 0.0f;
	if (mode == 2) acc = padcnt ? acc / padcnt : 0.0f;
	ST(F(P[15]), i, acc);
}

// gpool: P = {NC, HW, xoff, yoff, mode(0 avg, 1 max)}
__kernel void gpool(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	if (i >= P[0]) return;
	int HW = P[1];
	__global const FT *x = F(P[2]) + i * HW;
	float acc = P[4] ? -INFINITY : 0.0f;
	for (int j = 0; j < HW; j++) acc = P[4] ? fmax(acc, LD(x, j)) : acc + LD(x, j);
	ST(F(P[3]), i, P[4] ? acc : acc / HW);
}

// softmax over the middle axis of [outer, len, inner].
// P = {outer, len, inner, xoff, yoff, log}
__kernel void softmax(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	int outer = P[0], L = P[1], inner = P[2];
	if (i >= outer * inner) return;
	int o = i / inner, in = i % inner;
	__global const FT *x = F(P[3]) + o * L * inner + in;
	__global FT *y = F(P[4]) + o * L * inner + in;
	float mx = -INFINITY;
	for (int j = 0; j < L; j++) mx = fmax(mx, LD(x, j * inner));
	float s = 0.0f;
	for (int j = 0; j < L; j++) s += exp(LD(x, j * inner) - mx);
	if (P[5]) {
		float ls = log(s);
		for (int j = 0; j < L; j++) ST(y, j * inner, LD(x, j * inner) - mx - ls);
	} else {
		for (int j = 0; j < L; j++) ST(y, j * inner, exp(LD(x, j * inner) - mx) / s);
	}
}

// copyN: strided copy of elements of N bytes.
// P = {n, xoff, yoff, rank, dims[6], xstr[6], ystr[6]}
#define COPY(name, T) \
__kernel void name(__global uchar *M, __global const int *P) { \
	int i = get_global_id(0); \
	if (i >= P[0]) return; \
	int rank = P[3], r = i, ix = 0, iy = 0; \
	for (int d = rank - 1; d >= 0; d--) { \
		int c = r % P[4 + d]; \
		r /= P[4 + d]; \
		ix += c * P[4 + MAXR + d]; \
		iy += c * P[4 + 2 * MAXR + d]; \
	} \
	((__global T *)M)[P[2] + iy] = ((__global const T *)M)[P[1] + ix]; \
}
COPY(copy1, uchar)
COPY(copy2, ushort)
COPY(copy4, uint)
COPY(copy8, ulong)

// batchnorm (inference): P = {n, C, inner, xoff, soff, boff, moff, voff, yoff, eps}
__kernel void batchnorm(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	if (i >= P[0]) return;
	int c = (i / P[2]) % P[1];
	float inv = LD(F(P[4]), c) / sqrt(LD(F(P[7]), c) + as_float(P[9]));
	ST(F(P[8]), i, (LD(F(P[3]), i) - LD(F(P[6]), c)) * inv + LD(F(P[5]), c));
}

// conv3x3: 3x3 kernel, stride 1, dilation 1 (any group count); each work
// item computes 4 neighbouring outputs of one row. P as conv2d.
__kernel void conv3x3(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	int N = P[0], C = P[1], H = P[2], W = P[3], OC = P[4], OH = P[5], OW = P[6];
	int OW4 = (OW + 3) / 4;
	if (i >= N * OC * OH * OW4) return;
	int ph = P[11], pw = P[12], G = P[15];
	int q = i % OW4, t = i / OW4;
	int oh = t % OH; t /= OH;
	int oc = t % OC, n = t / OC;
	int cg = C / G, ocg = OC / G, g = oc / ocg;
	__global const FT *x = F(P[16]) + (n * C + g * cg) * H * W;
	__global const FT *w = F(P[17]) + oc * cg * 9;
	float b = P[18] >= 0 ? LD(F(P[18]), oc) : 0.0f;
	float a0 = b, a1 = b, a2 = b, a3 = b;
	int ow0 = q * 4, iw0 = ow0 - pw, ih0 = oh - ph;
	for (int c = 0; c < cg; c++) {
		for (int kh = 0; kh < 3; kh++) {
			int ih = ih0 + kh;
			if (ih < 0 || ih >= H) continue;
			__global const FT *xr = x + (c * H + ih) * W;
			__global const FT *wr = w + c * 9 + kh * 3;
			float v[6];
			for (int j = 0; j < 6; j++) {
				int iw = iw0 + j;
				v[j] = (iw >= 0 && iw < W) ? LD(xr, iw) : 0.0f;
			}
			float w0 = LD(wr, 0), w1 = LD(wr, 1), w2 = LD(wr, 2);
			a0 += v[0] * w0 + v[1] * w1 + v[2] * w2;
			a1 += v[1] * w0 + v[2] * w1 + v[3] * w2;
			a2 += v[2] * w0 + v[3] * w1 + v[4] * w2;
			a3 += v[3] * w0 + v[4] * w1 + v[5] * w2;
		}
	}
	__global FT *y = F(P[19]) + ((n * OC + oc) * OH + oh) * OW + ow0;
	float aa = as_float(P[21]), ab = as_float(P[22]);
	ST(y, 0, act(P[20], a0, aa, ab));
	if (ow0 + 1 < OW) ST(y, 1, act(P[20], a1, aa, ab));
	if (ow0 + 2 < OW) ST(y, 2, act(P[20], a2, aa, ab));
	if (ow0 + 3 < OW) ST(y, 3, act(P[20], a3, aa, ab));
}

// dwconv: depthwise convolution (one input channel per group), one work
// item per output; the valid kernel window is computed up front. P as conv2d.
__kernel void dwconv(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	int N = P[0], C = P[1], H = P[2], W = P[3], OC = P[4], OH = P[5], OW = P[6];
	if (i >= N * OC * OH * OW) return;
	int KH = P[7], KW = P[8], sh = P[9], sw = P[10], ph = P[11], pw = P[12], dh = P[13], dw = P[14];
	int ow = i % OW, t = i / OW;
	int oh = t % OH; t /= OH;
	int oc = t % OC, n = t / OC;
	int g = oc / (OC / C);
	__global const FT *x = F(P[16]) + (n * C + g) * H * W;
	__global const FT *w = F(P[17]) + oc * KH * KW;
	float acc = P[18] >= 0 ? LD(F(P[18]), oc) : 0.0f;
	int ih0 = oh * sh - ph, iw0 = ow * sw - pw;
	int kh0 = ih0 < 0 ? (-ih0 + dh - 1) / dh : 0;
	int kw0 = iw0 < 0 ? (-iw0 + dw - 1) / dw : 0;
	int kh1 = min(KH, (H - ih0 + dh - 1) / dh);
	int kw1 = min(KW, (W - iw0 + dw - 1) / dw);
	for (int kh = kh0; kh < kh1; kh++) {
		__global const FT *xr = x + (ih0 + kh * dh) * W + iw0;
		__global const FT *wr = w + kh * KW;
		for (int kw = kw0; kw < kw1; kw++) acc += LD(xr, kw * dw) * LD(wr, kw);
	}
	ST(F(P[19]), i, act(P[20], acc, as_float(P[21]), as_float(P[22])));
}

// padN: P = {n, xoff, yoff, rank, mode, vlo, vhi, odims[6], idims[6], istr[6], before[6]}
// mode 0: constant (value bits vlo, vhi), 1: reflect, 2: edge, 3: wrap.
#define PAD(name, T, VAL) \
__kernel void name(__global uchar *M, __global const int *P) { \
	int i = get_global_id(0); \
	if (i >= P[0]) return; \
	int rank = P[3], mode = P[4], r = i, ix = 0, outside = 0; \
	for (int d = rank - 1; d >= 0; d--) { \
		int c = r % P[7 + d] - P[7 + 3 * MAXR + d], L = P[7 + MAXR + d]; \
		r /= P[7 + d]; \
		if (c < 0 || c >= L) { \
			if (mode == 0) { outside = 1; break; } \
			if (mode == 2) c = c < 0 ? 0 : L - 1; \
			else if (mode == 3) c = ((c % L) + L) % L; \
			else if (L == 1) c = 0; \
			else { int p = 2 * (L - 1); c = ((c % p) + p) % p; if (c >= L) c = p - c; } \
		} \
		ix += c * P[7 + 2 * MAXR + d]; \
	} \
	((__global T *)M)[P[2] + i] = outside ? (VAL) : ((__global const T *)M)[P[1] + ix]; \
}
PAD(pad1, uchar, (uchar)P[5])
PAD(pad2, ushort, (ushort)P[5])
PAD(pad4, uint, (uint)P[5])
PAD(pad8, ulong, ((ulong)(uint)P[6] << 32) | (ulong)(uint)P[5])

// gatherN: P = {n, xoff, ioff, yoff, outer, axislen, nidx, inner, idx64}.
// Indices out of [-axislen, axislen) give zero.
#define GATHER(name, T) \
__kernel void name(__global uchar *M, __global const int *P) { \
	int i = get_global_id(0); \
	if (i >= P[0]) return; \
	int inner = P[7], nidx = P[6], L = P[5]; \
	int r = i % inner, t = i / inner, j = t % nidx, o = t / nidx; \
	long k = P[8] ? ((__global const long *)M)[P[2] + j] : (long)((__global const int *)M)[P[2] + j]; \
	if (k < 0) k += L; \
	T v = 0; \
	if (k >= 0 && k < L) v = ((__global const T *)M)[P[1] + (o * L + (int)k) * inner + r]; \
	((__global T *)M)[P[3] + i] = v; \
}
GATHER(gather1, uchar)
GATHER(gather2, ushort)
GATHER(gather4, uint)
GATHER(gather8, ulong)

// resize: separable taps. P = {n, xoff, yoff, rank, odims[6], istr[6],
// ntaps[6], taboff[6], extrap, tables...}; the table of axis d holds, for
// each output coordinate, ntaps (source index, weight bits) pairs; index
// -1 marks a position outside the crop (extrapolation value).
__kernel void resize(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	if (i >= P[0]) return;
	int rank = P[3], r = i, total = 1;
	int coord[MAXR];
	for (int d = rank - 1; d >= 0; d--) {
		coord[d] = r % P[4 + d];
		r /= P[4 + d];
		total *= P[4 + 2 * MAXR + d];
	}
	__global const FT *x = F(P[1]);
	float acc = 0.0f;
	for (int c = 0; c < total; c++) {
		int cc = c, off = 0;
		float w = 1.0f;
		for (int d = rank - 1; d >= 0; d--) {
			int nt = P[4 + 2 * MAXR + d], tp = cc % nt;
			cc /= nt;
			__global const int *e = P + P[4 + 3 * MAXR + d] + (coord[d] * nt + tp) * 2;
			if (e[0] < 0) {
				ST(F(P[2]), i, as_float(P[4 + 4 * MAXR]));
				return;
			}
			off += e[0] * P[4 + MAXR + d];
			w *= as_float(e[1]);
		}
		if (w != 0.0f) acc += w * LD(x, off);
	}
	ST(F(P[2]), i, acc);
}

// reduce: one work item per output. P = {n, xoff, yoff, mode, kr,
// kdims[6], kstr[6], rr, rdims[6], rstr[6], rcount}.
// mode 0 sum, 1 mean, 2 max, 3 min, 4 prod, 5 l1, 6 l2, 7 sum of squares,
// 8 log sum, 9 log sum exp.
__kernel void reduce(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	if (i >= P[0]) return;
	int mode = P[3], kr = P[4], r = i, base = 0;
	for (int d = kr - 1; d >= 0; d--) {
		base += (r % P[5 + d]) * P[5 + MAXR + d];
		r /= P[5 + d];
	}
	int rr = P[5 + 2 * MAXR], cnt = P[6 + 4 * MAXR];
	__global const int *rd = P + 6 + 2 * MAXR;
	__global const FT *x = F(P[1]) + base;
	float mx = -INFINITY;
	if (mode == 9) {
		for (int j = 0; j < cnt; j++) {
			int q = j, off = 0;
			for (int d = rr - 1; d >= 0; d--) { off += (q % rd[d]) * rd[MAXR + d]; q /= rd[d]; }
			mx = fmax(mx, LD(x, off));
		}
		if (isinf(mx)) mx = 0.0f;
	}
	float acc = mode == 2 ? -INFINITY : mode == 3 ? INFINITY : mode == 4 ? 1.0f : 0.0f;
	for (int j = 0; j < cnt; j++) {
		int q = j, off = 0;
		for (int d = rr - 1; d >= 0; d--) { off += (q % rd[d]) * rd[MAXR + d]; q /= rd[d]; }
		float v = LD(x, off);
		switch (mode) {
		case 2: acc = (v > acc || isnan(v)) ? v : acc; break;
		case 3: acc = (v < acc || isnan(v)) ? v : acc; break;
		case 4: acc *= v; break;
		case 5: acc += fabs(v); break;
		case 6: case 7: acc += v * v; break;
		case 9: acc += exp(v - mx); break;
		default: acc += v;
		}
	}
	if (mode == 1) acc /= cnt;
	else if (mode == 6) acc = sqrt(acc);
	else if (mode == 8) acc = log(acc);
	else if (mode == 9) acc = log(acc) + mx;
	ST(F(P[2]), i, acc);
}

// rownorm: one work group of NT items per row of a [rows, inner] view.
// P = {rows, inner, xoff, soff, boff(-1), yoff, moff(-1), ioff(-1), eps, mode, C}
// mode 0: LayerNormalization (scale and bias per position in the row);
// 1: InstanceNormalization (per channel, channel = row % C).
#define NT 64
__kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void rownorm(__global uchar *M, __global const int *P) {
	__local float part[NT];
	int row = get_group_id(0), l = get_local_id(0);
	int inner = P[1];
	__global const FT *x = F(P[2]) + row * inner;
	float s = 0.0f;
	for (int j = l; j < inner; j += NT) s += LD(x, j);
	part[l] = s;
	barrier(CLK_LOCAL_MEM_FENCE);
	for (int h = NT / 2; h > 0; h >>= 1) {
		if (l < h) part[l] += part[l + h];
		barrier(CLK_LOCAL_MEM_FENCE);
	}
	float mean = part[0] / inner;
	barrier(CLK_LOCAL_MEM_FENCE);
	s = 0.0f;
	for (int j = l; j < inner; j += NT) { float d = LD(x, j) - mean; s += d * d; }
	part[l] = s;
	barrier(CLK_LOCAL_MEM_FENCE);
	for (int h = NT / 2; h > 0; h >>= 1) {
		if (l < h) part[l] += part[l + h];
		barrier(CLK_LOCAL_MEM_FENCE);
	}
	float inv = 1.0f / sqrt(part[0] / inner + as_float(P[8]));
	__global FT *y = F(P[5]) + row * inner;
	if (P[9] == 0) {
		__global const FT *sc = F(P[3]);
		for (int j = l; j < inner; j += NT) {
			float v = (LD(x, j) - mean) * inv * LD(sc, j);
			ST(y, j, P[4] >= 0 ? v + LD(F(P[4]), j) : v);
		}
	} else {
		int c = row % P[10];
		float sc = LD(F(P[3]), c), bi = P[4] >= 0 ? LD(F(P[4]), c) : 0.0f;
		for (int j = l; j < inner; j += NT) ST(y, j, (LD(x, j) - mean) * inv * sc + bi);
	}
	if (l == 0) {
		if (P[6] >= 0) ST(F(P[6]), row, mean);
		if (P[7] >= 0) ST(F(P[7]), row, inv);
	}
}

// cast: P = {n, xoff, yoff, from, to}; type codes 0 float32, 1 int32,
// 2 int64, 3 bool, 4 uint8. Floats truncate toward zero, saturating at the
// int64 range (NaN gives 0), then wrap to the target width.
__kernel void cast(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	if (i >= P[0]) return;
	int from = P[3], to = P[4];
	float f = 0.0f;
	long l = 0;
	int isf = 0;
	switch (from) {
	case 0: f = LD(F(P[1]), i); isf = 1; break;
	case 1: l = ((__global const int *)M)[P[1] + i]; break;
	case 2: l = ((__global const long *)M)[P[1] + i]; break;
	default: l = M[P[1] + i]; break;
	}
	if (isf && to != 0 && to != 3) {
		if (to == 4 && f >= 18446744073709551615.0f) l = -1;
		else if (to == 4 && f >= 9223372036854775808.0f) l = 0;
		else l = convert_long_sat_rtz(f);
	}
	switch (to) {
	case 0: ST(F(P[2]), i, isf ? f : (float)l); break;
	case 1: ((__global int *)M)[P[2] + i] = (int)l; break;
	case 2: ((__global long *)M)[P[2] + i] = l; break;
	case 3: M[P[2] + i] = isf ? (f != 0.0f) : (l != 0); break;
	default: M[P[2] + i] = (uchar)l; break;
	}
}

// gemm4: as gemm, with 64x64 output tiles: each work item of a 16x16
// group computes 4x4 outputs (rows lm+16i, columns ln+16j of the tile).
#define TM 64
__kernel __attribute__((reqd_work_group_size(TS, TS, 1)))
void gemm4(__global uchar *M, __global const int *P) {
	__local float As[TS][TM + 1];
	__local float Bs[TS][TM + 1];
	int Mr = P[0], Nc = P[1], K = P[2];
	int ln = get_local_id(0), lm = get_local_id(1), b = get_global_id(2);
	int m0 = get_group_id(1) * TM, n0 = get_group_id(0) * TM;
	__global const FT *A = F(P[3]) + b * P[7];
	__global const FT *B = F(P[4]) + b * P[10];
	float acc[4][4];
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
	for (int k0 = 0; k0 < K; k0 += TS) {
		for (int r = 0; r < 4; r++) {
			int mm = m0 + lm + TS * r, ka = k0 + ln;
			As[ln][lm + TS * r] = (mm < Mr && ka < K) ? LD(A, mm * P[8] + ka * P[9]) : 0.0f;
			int nn = n0 + ln + TS * r, kb = k0 + lm;
			Bs[lm][ln + TS * r] = (nn < Nc && kb < K) ? LD(B, kb * P[11] + nn * P[12]) : 0.0f;
		}
		barrier(CLK_LOCAL_MEM_FENCE);
		for (int k = 0; k < TS; k++) {
			float a[4], bv[4];
			for (int r = 0; r < 4; r++) {
				a[r] = As[k][lm + TS * r];
				bv[r] = Bs[k][ln + TS * r];
			}
			for (int i = 0; i < 4; i++)
				for (int j = 0; j < 4; j++) acc[i][j] += a[i] * bv[j];
		}
		barrier(CLK_LOCAL_MEM_FENCE);
	}
	float alpha = as_float(P[16]), beta = as_float(P[17]);
	for (int i = 0; i < 4; i++) {
		int m = m0 + lm + TS * i;
		if (m >= Mr) break;
		for (int j = 0; j < 4; j++) {
			int n = n0 + ln + TS * j;
			if (n >= Nc) break;
			float v = alpha * acc[i][j];
			if (P[5] >= 0)
				v += beta * LD(F(P[5]), m * P[13] + n * P[14]);
			ST(F(P[6]), b * P[15] + m * Nc + n, act(P[18], v, as_float(P[19]), as_float(P[20])));
		}
	}
}
