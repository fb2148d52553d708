package shamir

// Arithmetic in GF(2⁸) with the AES polynomial x⁸ + x⁴ + x³ + x + 1 (FIPS-197 §4.2). Addition
// (and subtraction) is XOR. Multiplication and inversion run in constant time: no table
// lookups and no branches on their operands, since the operands are secret bytes.

// mul returns a·b: the shift-and-add ("Russian peasant") product, reducing by 0x11b at each
// step, with masks instead of branches.
func mul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= -(b & 1) & a // add a when b's low bit is set
		carry := -(a >> 7)
		a = a<<1 ^ carry&0x1b // a·x, reduced when x⁸ appears
		b >>= 1
	}
	return p
}

// inv returns a⁻¹ as a²⁵⁴ (a²⁵⁵ = 1 for every non-zero a), with a fixed sequence of
// multiplications. inv(0) is 0.
func inv(a byte) byte {
	// 254 = 0b11111110: square and multiply over its bits, highest first.
	r := a        // bit 7
	for range 6 { // bits 6 to 1
		r = mul(r, r)
		r = mul(r, a)
	}
	return mul(r, r) // bit 0
}
