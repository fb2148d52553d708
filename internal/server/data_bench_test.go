package server_test

import (
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/testenv"
)

// The data benchmarks run real requests, signed by a real client, against a real server
// (SQLite metadata, disk blocks) on a loopback listener: what they measure is what a client
// of a server on the same machine sees.
//
//	go test -run '^$' -bench 'Vlob|Block' ./internal/server/

// benchWorkspace returns a client of the first user of a new organization and a workspace
// it created (key index 1).
func benchWorkspace(b *testing.B) (*client.Client, parsec.VlobID) {
	b.Helper()
	srv := testenv.NewServer(b)
	c := srv.Bootstrap(b, "Bench", "alice@example.com", "Alice").Open(b)
	realm, err := c.CreateWorkspace(b.Context(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return c, realm
}

const benchKeyIndex = 1

func randomBlob(n int) []byte {
	out := make([]byte, n)
	rand.Read(out)
	return out
}

// writeVlobs creates n vlobs of blob in batches of batch, and returns their IDs.
func writeVlobs(b *testing.B, c *client.Client, realm parsec.VlobID, n, batch int, blob []byte) []parsec.VlobID {
	ids := make([]parsec.VlobID, n)
	for start := 0; start < n; start += batch {
		items := make([]protocol.VlobWrite, min(batch, n-start))
		now := parsec.FromTime(time.Now())
		for i := range items {
			ids[start+i] = parsec.NewVlobID()
			items[i] = protocol.VlobWrite{VlobID: ids[start+i], Version: 1, Timestamp: now, Blob: blob}
		}
		err := c.Call(b.Context(), protocol.CmdVlobWrite, protocol.VlobWriteReq{RealmID: realm, KeyIndex: benchKeyIndex, Items: items}, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

// BenchmarkVlobWrite writes 10,000 vlobs of 300 bytes in batches of 1000 per operation.
func BenchmarkVlobWrite(b *testing.B) {
	c, realm := benchWorkspace(b)
	blob := randomBlob(300)
	const n = 10_000
	for b.Loop() {
		writeVlobs(b, c, realm, n, protocol.MaxBatchItems, blob)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "vlobs/s")
}

// BenchmarkVlobReadBatch reads 10,000 vlobs of 300 bytes in batches of 1000 per operation.
func BenchmarkVlobReadBatch(b *testing.B) {
	c, realm := benchWorkspace(b)
	const n = 10_000
	ids := writeVlobs(b, c, realm, n, protocol.MaxBatchItems, randomBlob(300))
	b.ResetTimer()
	for b.Loop() {
		for start := 0; start < n; start += protocol.MaxBatchItems {
			var rep protocol.VlobReadRep
			err := c.Call(b.Context(), protocol.CmdVlobReadBatch,
				protocol.VlobReadBatchReq{RealmID: realm, Vlobs: ids[start : start+protocol.MaxBatchItems]}, &rep)
			if err != nil {
				b.Fatal(err)
			}
			if len(rep.Items) != protocol.MaxBatchItems {
				b.Fatalf("%d vlobs read, want %d", len(rep.Items), protocol.MaxBatchItems)
			}
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "vlobs/s")
}

// createBlocks uploads count blocks of data in batches of batch, and returns their IDs.
func createBlocks(b *testing.B, c *client.Client, realm parsec.VlobID, count, batch int, data []byte) []parsec.BlockID {
	ids := make([]parsec.BlockID, count)
	for start := 0; start < count; start += batch {
		blocks := make([]protocol.BlockData, min(batch, count-start))
		for i := range blocks {
			ids[start+i] = parsec.NewBlockID()
			blocks[i] = protocol.BlockData{BlockID: ids[start+i], Data: data}
		}
		err := c.Call(b.Context(), protocol.CmdBlockCreate, protocol.BlockCreateReq{RealmID: realm, KeyIndex: benchKeyIndex, Blocks: blocks}, nil)
		if err != nil {
			b.Error(err)
			return nil
		}
	}
	return ids
}

// BenchmarkBlockCreateSmall uploads 10,000 blocks of 4 KiB in batches of 1000 per
// operation: many small files.
func BenchmarkBlockCreateSmall(b *testing.B) {
	c, realm := benchWorkspace(b)
	data := randomBlob(4 << 10)
	const n = 10_000
	b.SetBytes(n * 4 << 10)
	for b.Loop() {
		createBlocks(b, c, realm, n, protocol.MaxBatchItems, data)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "blocks/s")
}

// BenchmarkBlockCreateLarge uploads batches of sixteen 512 KiB blocks (8 MiB), one per
// operation: a large file. With -benchtime 128x it is a 1 GiB file. The parallel variant
// has two uploads in flight at once, as the client does.
func BenchmarkBlockCreateLarge(b *testing.B) {
	const block, batch = 512 << 10, protocol.MaxBatchBytes / (512 << 10)
	for _, streams := range []int{1, 2} {
		b.Run(map[int]string{1: "sequential", 2: "parallel"}[streams], func(b *testing.B) {
			c, realm := benchWorkspace(b)
			data := randomBlob(block)
			b.SetBytes(block * batch)
			work := make(chan struct{}, b.N)
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range streams {
				wg.Go(func() {
					for range work {
						createBlocks(b, c, realm, batch, batch, data)
					}
				})
			}
			wg.Wait()
		})
	}
}

// BenchmarkBlockRead downloads batches of sixteen 512 KiB blocks (8 MiB), one per
// operation.
func BenchmarkBlockRead(b *testing.B) {
	const block, batch = 512 << 10, protocol.MaxBatchBytes / (512 << 10)
	c, realm := benchWorkspace(b)
	ids := createBlocks(b, c, realm, batch, batch, randomBlob(block))
	b.SetBytes(block * batch)
	b.ResetTimer()
	for b.Loop() {
		var rep protocol.BlockReadRep
		if err := c.Call(b.Context(), protocol.CmdBlockRead, protocol.BlockReadReq{RealmID: realm, BlockIDs: ids}, &rep); err != nil {
			b.Fatal(err)
		}
		if len(rep.Blocks) != batch {
			b.Fatalf("%d blocks read, want %d", len(rep.Blocks), batch)
		}
	}
}
