package httpx

import (
	"context"
	"net/http"

	"streamspace/internal/auth"
	"streamspace/internal/paging"
)

// ReadPage reads a list route's limit and cursor within b.
func ReadPage(r *http.Request, b paging.Bounds) (paging.Query, error) {
	limit, err := QueryInt(r, "limit", b.Default, 1, b.Max)
	if err != nil {
		return paging.Query{}, err
	}
	return paging.Query{Limit: limit, Cursor: r.URL.Query().Get("cursor")}, nil
}

// ListFunc answers one page of a listing for a caller.
type ListFunc[T any] func(ctx context.Context, c auth.Caller, q paging.Query) ([]T, string, error)

// List is the one list handler: it reads the page the client asks for, asks list for it and
// answers {items, nextCursor}. List routes differ only in the ListFunc they give it.
func List[T any](w http.ResponseWriter, r *http.Request, b paging.Bounds, list ListFunc[T]) error {
	q, err := ReadPage(r, b)
	if err != nil {
		return err
	}
	items, next, err := list(r.Context(), Caller(r), q)
	if err != nil {
		return err
	}
	WritePage(w, items, next)
	return nil
}
