package authorizer_test

import (
	"log/slog"

	"streamspace/internal/testenv"
)

func testenvLogger(l *testenv.Logs) *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
