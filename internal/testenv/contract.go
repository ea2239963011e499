package testenv

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"

	"streamspace/internal/openapi"
	"streamspace/internal/openapi/conform"
)

var (
	contractOnce sync.Once
	contract     *conform.Checker
	contractErr  error
)

// Contract is the checker of the API's OpenAPI document, the one GET /api/v1/openapi.json
// serves (both come from openapi.Document).
func Contract() (*conform.Checker, error) {
	contractOnce.Do(func() {
		doc, err := openapi.Document()
		if err != nil {
			contractErr = err
			return
		}
		contract, contractErr = conform.New(doc)
	})
	return contract, contractErr
}

// checkContract fails the test (without stopping it: Do may run on other goroutines) when the
// exchange is not what the document says: an undocumented status, a body or header that does
// not match its schema, or an accepted request the document would refuse.
func (e *Env) checkContract(method, url string, reqHeader http.Header, reqBody []byte, resp Response) {
	e.T.Helper()
	c, err := Contract()
	if err != nil {
		e.T.Errorf("openapi document: %v", err)
		return
	}
	if err := c.Check(conform.Exchange{Method: method, URL: url, ReqHeader: reqHeader, ReqBody: reqBody,
		Status: resp.Status, Header: resp.Header, Body: resp.Body}); err != nil {
		e.T.Errorf("%v", err)
	}
	if path := os.Getenv("OPENAPI_COVERAGE"); path != "" {
		writeCoverage(path, c.Seen())
	}
}

var coverageMu sync.Mutex

// writeCoverage records which operations and statuses the tests exercised, one
// "METHOD /template status count" line each (OPENAPI_COVERAGE=file go test ./internal/e2e).
func writeCoverage(path string, seen map[string]int) {
	var lines []string
	for k, n := range seen {
		lines = append(lines, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(lines)
	coverageMu.Lock()
	defer coverageMu.Unlock()
	_ = os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
