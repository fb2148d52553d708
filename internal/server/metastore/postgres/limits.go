package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

var _ metastore.RateCounter = (*Store)(nil)

// pruneRatesEvery is how often CountRequest deletes the rows of ended windows.
const pruneRatesEvery = time.Minute

// CountRequest implements metastore.RateCounter with the table rate_limits, in one statement:
// the row of key is created, counted or reset under its row lock, so that the requests of
// every process on this database are counted once each.
func (s *Store) CountRequest(ctx context.Context, key string, window time.Duration, now parsec.DateTime) (int64, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	var count int64
	err := s.pool.QueryRow(ctx, `INSERT INTO rate_limits AS r (key, window_end, count) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN r.window_end <= $3 THEN 1 ELSE r.count + 1 END,
			window_end = CASE WHEN r.window_end <= $3 THEN excluded.window_end ELSE r.window_end END
		RETURNING count`, key, int64(now.Add(window)), int64(now)).Scan(&count)
	if err != nil {
		return 0, unavailable(ctx, fmt.Errorf("metadata database: count a request: %w", err), false)
	}
	if last := s.ratesPruned.Load(); now.Add(-pruneRatesEvery) > parsec.DateTime(last) && s.ratesPruned.CompareAndSwap(last, int64(now)) {
		if _, err := s.pool.Exec(ctx, `DELETE FROM rate_limits WHERE window_end <= $1`, int64(now)); err != nil {
			return 0, unavailable(ctx, fmt.Errorf("metadata database: delete ended rate limit windows: %w", err), false)
		}
	}
	return count, nil
}
