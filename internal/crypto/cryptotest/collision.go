// Package cryptotest makes, for tests, what an attacker who holds keys can make: an
// AES-256-GCM ciphertext that decrypts with two keys.
package cryptotest

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
)

// gf is an element of GF(2^128) in GCM's bit order: the first bit of the first byte is
// the coefficient of x^0 (NIST SP 800-38D, 6.3).
type gf struct{ hi, lo uint64 }

func gfFrom(b []byte) gf { return gf{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16])} }

func (a gf) bytes() []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, a.hi), a.lo)
}

func (a gf) xor(b gf) gf { return gf{a.hi ^ b.hi, a.lo ^ b.lo} }

// mul is SP 800-38D's algorithm 1.
func (a gf) mul(b gf) gf {
	var z gf
	v := b
	for i := range 128 {
		var bit uint64
		if i < 64 {
			bit = a.hi >> (63 - i) & 1
		} else {
			bit = a.lo >> (127 - i) & 1
		}
		if bit == 1 {
			z = z.xor(v)
		}
		carry := v.lo & 1
		v.lo = v.lo>>1 | v.hi<<63
		v.hi >>= 1
		if carry == 1 {
			v.hi ^= 0xe1 << 56
		}
	}
	return z
}

var one = gf{hi: 1 << 63}

// inv is a^(2^128-2), the inverse of a non-zero a.
func (a gf) inv() gf {
	r := one
	for range 127 {
		r = r.mul(r).mul(a)
	}
	return r.mul(r)
}

func (a gf) pow(n int) gf {
	r := one
	for range n {
		r = r.mul(a)
	}
	return r
}

// ghash hashes data, whose length is a multiple of 16, with h.
func ghash(h gf, data []byte) gf {
	var y gf
	for i := 0; i < len(data); i += 16 {
		y = y.xor(gfFrom(data[i : i+16])).mul(h)
	}
	return y
}

func pad16(b []byte) []byte {
	if r := len(b) % 16; r != 0 {
		b = append(b, make([]byte, 16-r)...)
	}
	return b
}

// gcmKey is what GCM computes from a key and a nonce: the hash key H and E(K, J0).
func gcmKey(key, nonce []byte) (h gf, ej0 []byte) {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	hb := make([]byte, 16)
	block.Encrypt(hb, hb)
	h = gfFrom(hb)
	var j0 []byte
	if len(nonce) == 12 {
		j0 = append(append([]byte{}, nonce...), 0, 0, 0, 1)
	} else {
		s := pad16(append([]byte{}, nonce...))
		s = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(s, 0), uint64(len(nonce))*8)
		j0 = ghash(h, s).bytes()
	}
	ej0 = make([]byte, 16)
	block.Encrypt(ej0, j0)
	return h, ej0
}

// tagInput is GHASH's input for aad and ciphertext.
func tagInput(aad, ciphertext []byte) []byte {
	s := pad16(append([]byte{}, aad...))
	s = pad16(append(s, ciphertext...))
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(s, uint64(len(aad))*8), uint64(len(ciphertext))*8)
}

// GCMTag is the tag AES-GCM computes over aad and ciphertext with key and nonce (any
// nonce length): a test checks this package's arithmetic against crypto/cipher with it.
func GCMTag(key, nonce, aad, ciphertext []byte) []byte {
	h, ej0 := gcmKey(key, nonce)
	return ghash(h, tagInput(aad, ciphertext)).xor(gfFrom(ej0)).bytes()
}

// AESGCMCollision returns nonce ‖ ciphertext ‖ tag such that AES-GCM opens it with key1
// and with key2 (both 32 bytes), with aad: the ciphertext is that of plaintext under key1,
// but for its first 16 bytes, chosen so that both keys give the same tag. Under key1 it
// decrypts to plaintext with its first 16 bytes changed; under key2, to other bytes. The
// plaintext must be at least 16 bytes long.
func AESGCMCollision(key1, key2, nonce, aad, plaintext []byte) []byte {
	if len(plaintext) < 16 {
		panic(fmt.Sprintf("cryptotest: a plaintext of %d bytes, want at least 16", len(plaintext)))
	}
	block, err := aes.NewCipher(key1)
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCMWithNonceSize(block, len(nonce))
	if err != nil {
		panic(err)
	}
	sealed := g.Seal(nil, nonce, plaintext, aad)
	ct := sealed[:len(plaintext)]
	clear(ct[:16]) // the free block, solved for below
	h1, e1 := gcmKey(key1, nonce)
	h2, e2 := gcmKey(key2, nonce)
	s := tagInput(aad, ct)
	m := len(s) / 16
	free := len(pad16(append([]byte{}, aad...)))/16 + 1 // the free block's place in s, from 1
	c1, c2 := h1.pow(m-free+1), h2.pow(m-free+1)        // its coefficients
	g1, g2 := ghash(h1, s).xor(gfFrom(e1)), ghash(h2, s).xor(gfFrom(e2))
	x := g1.xor(g2).mul(c1.xor(c2).inv())
	copy(ct[:16], x.bytes())
	tag := g1.xor(x.mul(c1)).bytes()
	out := append(append([]byte{}, nonce...), ct...)
	return append(out, tag...)
}
