// accel OpenCL C 1.2 kernels. Every kernel takes the arena M (bytes) and
// a parameter block P (ints; floats stored as their bits). Offsets in P
// are in elements of the tensor's type.

#define F(off) ((__global float *)M + (off))

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
	F(P[2])[i] = act(P[3], F(P[1])[i], as_float(P[4]), as_float(P[5]));
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
	float v = binop(P[4], F(P[1])[ia], F(P[2])[ib]);
	if (P[5])
		(M + P[3])[i] = v != 0.0f;
	else
		F(P[3])[i] = v;
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
	F(P[4])[i] = (M + P[1])[ic] ? F(P[2])[ix] : F(P[3])[iy];
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
	__global const float *A = F(P[3]) + b * P[7];
	__global const float *B = F(P[4]) + b * P[10];
	float acc = 0.0f;
	for (int k0 = 0; k0 < K; k0 += TS) {
		int ka = k0 + ln, kb = k0 + lm;
		int am = get_group_id(1) * TS + lm;
		As[lm][ln] = (am < Mr && ka < K) ? A[am * P[8] + ka * P[9]] : 0.0f;
		Bs[lm][ln] = (kb < K && n < Nc) ? B[kb * P[11] + n * P[12]] : 0.0f;
		barrier(CLK_LOCAL_MEM_FENCE);
		for (int k = 0; k < TS; k++)
			acc += As[lm][k] * Bs[k][ln];
		barrier(CLK_LOCAL_MEM_FENCE);
	}
	if (m >= Mr || n >= Nc) return;
	float v = as_float(P[16]) * acc;
	if (P[5] >= 0)
		v += as_float(P[17]) * F(P[5])[m * P[13] + n * P[14]];
	F(P[6])[b * P[15] + m * Nc + n] = act(P[18], v, as_float(P[19]), as_float(P[20]));
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
	__global const float *x = F(P[16]) + (n * C + g * cg) * H * W;
	__global const float *w = F(P[17]) + oc * cg * KH * KW;
	float acc = P[18] >= 0 ? F(P[18])[oc] : 0.0f;
	int ih0 = oh * sh - ph, iw0 = ow * sw - pw;
	for (int c = 0; c < cg; c++) {
		for (int kh = 0; kh < KH; kh++) {
			int ih = ih0 + kh * dh;
			if (ih < 0 || ih >= H) continue;
			__global const float *xr = x + (c * H + ih) * W;
			__global const float *wr = w + (c * KH + kh) * KW;
			for (int kw = 0; kw < KW; kw++) {
				int iw = iw0 + kw * dw;
				if (iw >= 0 && iw < W) acc += xr[iw] * wr[kw];
			}
		}
	}
	F(P[19])[i] = act(P[20], acc, as_float(P[21]), as_float(P[22]));
}

// pool2d: P = {NC, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, mode, xoff, yoff, peh, pew}
// mode 0: max, 1: average over valid elements, 2: average counting pads.
__kernel void pool2d(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	int NC = P[0], H = P[1], W = P[2], OH = P[3], OW = P[4];
	if (i >= NC * OH * OW) return;
	int KH = P[5], KW = P[6], sh = P[7], sw = P[8], ph = P[9], pw = P[10], dh = P[11], dw = P[12], mode = P[13];
	int ow = i % OW, t = i / OW, oh = t % OH, nc = t / OH;
	__global const float *x = F(P[14]) + nc * H * W;
	float acc = mode == 0 ? -INFINITY : 0.0f;
	int cnt = 0, padcnt = 0;
	for (int kh = 0; kh < KH; kh++) {
		int ih = oh * sh - ph + kh * dh;
		for (int kw = 0; kw < KW; kw++) {
			int iw = ow * sw - pw + kw * dw;
			if (ih >= -ph && ih < H + P[16] && iw >= -pw && iw < W + P[17]) padcnt++;
			if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
			float v = x[ih * W + iw];
			if (mode == 0) acc = fmax(acc, v); else acc += v;
			cnt++;
		}
	}
	if (mode == 1) acc = cnt ? acc / cnt : 0.0f;
	if (mode == 2) acc = padcnt ? acc / padcnt : 0.0f;
	F(P[15])[i] = acc;
}

// gpool: P = {NC, HW, xoff, yoff, mode(0 avg, 1 max)}
__kernel void gpool(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	if (i >= P[0]) return;
	int HW = P[1];
	__global const float *x = F(P[2]) + i * HW;
	float acc = P[4] ? -INFINITY : 0.0f;
	for (int j = 0; j < HW; j++) acc = P[4] ? fmax(acc, x[j]) : acc + x[j];
	F(P[3])[i] = P[4] ? acc : acc / HW;
}

// softmax over the middle axis of [outer, len, inner].
// P = {outer, len, inner, xoff, yoff, log}
__kernel void softmax(__global uchar *M, __global const int *P) {
	int i = get_global_id(0);
	int outer = P[0], L = P[1], inner = P[2];
	if (i >= outer * inner) return;
	int o = i / inner, in = i % inner;
	__global const float *x = F(P[3]) + o * L * inner + in;
	__global float *y = F(P[4]) + o * L * inner + in;
	float mx = -INFINITY;
	for (int j = 0; j < L; j++) mx = fmax(mx, x[j * inner]);
	float s = 0.0f;
	for (int j = 0; j < L; j++) s += exp(x[j * inner] - mx);
	if (P[5]) {
		float ls = log(s);
		for (int j = 0; j < L; j++) y[j * inner] = x[j * inner] - mx - ls;
	} else {
		for (int j = 0; j < L; j++) y[j * inner] = exp(x[j * inner] - mx) / s;
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
	float inv = F(P[4])[c] / sqrt(F(P[7])[c] + as_float(P[9]));
	F(P[8])[i] = (F(P[3])[i] - F(P[6])[c]) * inv + F(P[5])[c];
}
