package sqlstore

import (
	"context"

	"gorm.io/gorm"
)

// row is a private row struct that converts to the store record T.
type row[T any] interface {
	record() T
}

// take reads the one row matching query (an id or a unique key).
func take[R row[T], T any](ctx context.Context, s *Store, op string, query string, args ...any) (T, error) {
	var r R
	if err := s.db.WithContext(ctx).Where(query, args...).Take(&r).Error; err != nil {
		var zero T
		return zero, s.fail(ctx, op, err)
	}
	return r.record(), nil
}

// find reads every row q selects.
func find[R row[T], T any](ctx context.Context, s *Store, op string, q *gorm.DB) ([]T, error) {
	var rows []R
	if err := q.Find(&rows).Error; err != nil {
		return nil, s.fail(ctx, op, err)
	}
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.record())
	}
	return out, nil
}

// insert creates the row r points to.
func (s *Store) insert(ctx context.Context, op string, r any) error {
	return s.fail(ctx, op, s.db.WithContext(ctx).Create(r).Error)
}

// swap writes every column of the row r points to except id and created_at,
// on condition that the stored version is still version: the compare-and-swap
// step of casLoop. It reports the rows touched (0 or 1).
func (s *Store) swap(ctx context.Context, op string, r any, id string, version int64) (int64, error) {
	res := s.db.WithContext(ctx).Model(r).
		Where("id = ? AND version = ?", id, version).
		Select("*").Omit(insertOnly...).
		Updates(r)
	if res.Error != nil {
		return 0, s.fail(ctx, op, res.Error)
	}
	return res.RowsAffected, nil
}
