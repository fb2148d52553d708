package pgsmall

import "time"

// SetAnswerTimeout lowers answerTimeout for a test, and returns what restores it.
func SetAnswerTimeout(d time.Duration) (restore func()) {
	old := testOnlyAnswerTimeout
	testOnlyAnswerTimeout = d
	return func() { testOnlyAnswerTimeout = old }
}

// The lookups whose plans the tests check.
const (
	GetManyQuery = getManyQuery
	DeleteQuery  = deleteQuery
)
