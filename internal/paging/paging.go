// Package paging is how every list route pages: what a client asks for (a limit and the cursor
// of the previous page) and what each listing allows. The HTTP edge reads it once
// (httpx.List); services and stores take a Query and answer the items and the next cursor.
package paging

// Query is one page request: at most Limit items, after the page Cursor ended ("" = first).
type Query struct {
	Limit  int
	Cursor string
}

// Bounds are a listing's default and largest limit; a limit outside 1..Max is a 400, never
// replaced.
type Bounds struct{ Default, Max int }

var (
	// Standard is every listing's bounds unless it says otherwise.
	Standard = Bounds{Default: 50, Max: 100}
	// Long is for listings of small items read in bulk (activity, the template catalogue).
	Long = Bounds{Default: 100, Max: 500}
)
