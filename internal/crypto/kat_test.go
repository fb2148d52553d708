package crypto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// Known-answer tests against published vectors, one subtest per vector. The values are
// copied from the documents named on each table; none was produced by this package.

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in test vector: %v", err)
	}
	return b
}

// RFC 8032, section 7.1, test vectors for Ed25519.
var ed25519Vectors = []struct {
	name, seed, public, message, signature string
}{
	{
		name:      "TEST 1",
		seed:      "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		public:    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		message:   "",
		signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
	},
	{
		name:      "TEST 2",
		seed:      "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		public:    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		message:   "72",
		signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
	},
	{
		name:      "TEST 3",
		seed:      "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
		public:    "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
		message:   "af82",
		signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
	},
	{
		name:   "TEST SHA(abc)",
		seed:   "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
		public: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
		// SHA-512("abc"), checked below.
		message:   "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
		signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
	},
}

func TestEd25519RFC8032(t *testing.T) {
	for _, tc := range ed25519Vectors {
		t.Run(tc.name, func(t *testing.T) {
			msg := unhex(t, tc.message)
			k, err := SigningKeyFromSeed(unhex(t, tc.seed))
			if err != nil {
				t.Fatal(err)
			}
			vk := k.VerifyKey()
			if got, want := hex.EncodeToString(vk[:]), tc.public; got != want {
				t.Fatalf("public key = %s, want %s", got, want)
			}
			if got, want := hex.EncodeToString(ed25519.Sign(k.priv, msg)), tc.signature; got != want {
				t.Fatalf("signature = %s, want %s", got, want)
			}
			// Our signatures are domain-separated: the published (undomained) signature
			// must not verify in any domain, ours verifies only in its own.
			if err := vk.Verify("parsec/1/test", msg, unhex(t, tc.signature)); err == nil {
				t.Error("plain Ed25519 signature accepted by Verify")
			}
			sig := k.Sign("parsec/1/test", msg)
			if err := vk.Verify("parsec/1/test", msg, sig); err != nil {
				t.Errorf("Verify(own domain) = %v", err)
			}
			if err := vk.Verify("parsec/1/other", msg, sig); err == nil {
				t.Error("signature accepted in another domain")
			}
		})
	}
	t.Run("SHA(abc) message", func(t *testing.T) {
		sum := sha512.Sum512([]byte("abc"))
		if got, want := hex.EncodeToString(sum[:]), ed25519Vectors[3].message; got != want {
			t.Errorf("SHA-512(abc) = %s, want %s", got, want)
		}
	})
}

// RFC 5869, appendix A, test cases 1 to 3 (HKDF-SHA256).
var hkdfVectors = []struct {
	name, ikm, salt, info, prk, okm string
}{
	{
		name: "test case 1",
		ikm:  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		salt: "000102030405060708090a0b0c",
		info: "f0f1f2f3f4f5f6f7f8f9",
		prk:  "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
		okm:  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
	},
	{
		name: "test case 2",
		ikm: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
			"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
		salt: "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f" +
			"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
		info: "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf" +
			"d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
		prk: "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
		okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c" +
			"59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
	},
	{
		name: "test case 3",
		ikm:  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		salt: "",
		info: "",
		prk:  "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
		okm:  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
	},
}

func TestHKDFRFC5869(t *testing.T) {
	for _, tc := range hkdfVectors {
		t.Run(tc.name, func(t *testing.T) {
			ikm, salt, info := unhex(t, tc.ikm), unhex(t, tc.salt), string(unhex(t, tc.info))
			if got := hex.EncodeToString(hkdfExtract(ikm, salt)); got != tc.prk {
				t.Errorf("PRK = %s, want %s", got, tc.prk)
			}
			n := len(tc.okm) / 2
			if got := hex.EncodeToString(hkdfSHA256(ikm, salt, info, n)); got != tc.okm {
				t.Errorf("OKM = %s, want %s", got, tc.okm)
			}
		})
	}
}

// draft-irtf-cfrg-xchacha (XChaCha: eXtended-nonce ChaCha and AEAD_XChaCha20_Poly1305),
// appendix A.3.1.
var xchachaVectors = []struct {
	name, key, nonce, aad, plaintext, ciphertext, tag string
}{
	{
		name:  "A.3.1",
		key:   "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
		nonce: "404142434445464748494a4b4c4d4e4f5051525354555657",
		aad:   "50515253c0c1c2c3c4c5c6c7",
		plaintext: "4c616469657320616e642047656e746c656d656e206f662074686520636c6173" +
			"73206f66202739393a204966204920636f756c64206f6666657220796f75206f" +
			"6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73" +
			"637265656e20776f756c642062652069742e",
		ciphertext: "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb" +
			"731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452" +
			"2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
			"21f9664c97637da9768812f615c68b13b52e",
		tag: "c0875924c1c7987947deafd8780acf49",
	},
}

func TestXChaCha20Poly1305Draft(t *testing.T) {
	for _, tc := range xchachaVectors {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseSecretKey(unhex(t, tc.key))
			if err != nil {
				t.Fatal(err)
			}
			nonce := (*[24]byte)(unhex(t, tc.nonce))
			aad, pt := unhex(t, tc.aad), unhex(t, tc.plaintext)
			want := tc.nonce + tc.ciphertext + tc.tag
			if got := hex.EncodeToString(k.encryptWithNonce(nil, nonce, pt, aad)); got != want {
				t.Fatalf("encrypt = %s, want %s", got, want)
			}
			got, err := k.Decrypt(unhex(t, want), aad)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Decrypt = %x, %v; want %x", got, err, pt)
			}
		})
	}
}

// hpkeVector is one base-mode HPKE vector, reduced to the key derivation and the first
// encryption.
type hpkeVector struct {
	Source string `json:"source"`
	Info   string `json:"info"`
	IkmR   string `json:"ikmR"`
	SkRm   string `json:"skRm"`
	PkRm   string `json:"pkRm"`
	Enc    string `json:"enc"`
	AAD    string `json:"aad"`
	CT     string `json:"ct"`
	PT     string `json:"pt"`
}

func TestHPKEVectors(t *testing.T) {
	var xwing hpkeVector
	b, err := os.ReadFile("testdata/hpke_mlkem768x25519.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &xwing); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		kem  hpke.KEM
		v    hpkeVector
	}{
		{
			// RFC 9180, appendix A.2.1 and A.2.1.1 (sequence number 0):
			// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305, base mode.
			name: "RFC 9180 A.2.1",
			kem:  hpke.DHKEM(ecdh.X25519()),
			v: hpkeVector{
				Info: "4f6465206f6e2061204772656369616e2055726e",
				IkmR: "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df",
				SkRm: "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb",
				PkRm: "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a",
				Enc:  "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
				AAD:  "436f756e742d30",
				CT:   "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
				PT:   "4265617574792069732074727574682c20747275746820626561757479",
			},
		},
		{
			// The suite of user keys (UserKeyAlgorithm); see the source in the file.
			name: "draft-ietf-hpke-pq MLKEM768X25519",
			kem:  userKEM,
			v:    xwing,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			derived, err := tc.kem.DeriveKeyPair(unhex(t, v.IkmR))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(derived.PublicKey().Bytes()); got != v.PkRm {
				t.Errorf("DeriveKeyPair(ikmR): pkRm = %s, want %s", got, v.PkRm)
			}
			// SerializePrivateKey may differ from skRm for X25519 (clamping, RFC 9180
			// section 7.1.2), so check skRm by its public key.
			sk, err := tc.kem.NewPrivateKey(unhex(t, v.SkRm))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(sk.PublicKey().Bytes()); got != v.PkRm {
				t.Errorf("NewPrivateKey(skRm): pkRm = %s, want %s", got, v.PkRm)
			}
			r, err := hpke.NewRecipient(unhex(t, v.Enc), sk, userKDF, userAEAD, unhex(t, v.Info))
			if err != nil {
				t.Fatal(err)
			}
			pt, err := r.Open(unhex(t, v.AAD), unhex(t, v.CT))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got := hex.EncodeToString(pt); got != v.PT {
				t.Errorf("pt = %s, want %s", got, v.PT)
			}
		})
	}
	t.Run("ParseUserPrivateKey of skRm", func(t *testing.T) {
		k, err := ParseUserPrivateKey(unhex(t, xwing.SkRm))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(k.Public().Bytes()); got != xwing.PkRm {
			t.Errorf("public key = %s, want %s", got, xwing.PkRm)
		}
		if got := hex.EncodeToString(k.Bytes()); got != xwing.SkRm {
			t.Errorf("Bytes = %s, want %s", got, xwing.SkRm)
		}
	})
}
