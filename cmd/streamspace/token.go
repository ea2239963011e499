package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"streamspace/internal/auth"
	"streamspace/internal/local/issuer"
)

func tokenCmd(args []string) error {
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	user := fs.String("user", "", "user id (the token's sub)")
	role := fs.String("role", "", "platform role: user, operator or admin")
	ttl := fs.Duration("ttl", 12*time.Hour, "lifetime")
	data := fs.String("data", ".local", "data folder holding the signing key")
	_ = fs.Parse(args)
	if *user == "" {
		return errors.New("-user is required")
	}
	if *role != "" && !auth.ValidRole(*role) {
		return fmt.Errorf("-role must be user, operator or admin")
	}
	keyPath := filepath.Join(*data, "issuer-key.pem")
	if _, err := os.Stat(keyPath); err != nil {
		return fmt.Errorf("no signing key at %s: start the stack once with `make run`", keyPath)
	}
	is, err := issuer.LoadOrCreate(keyPath)
	if err != nil {
		return err
	}
	tok, err := is.Mint(issuer.Claims{Subject: *user, Role: *role, TTL: *ttl})
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
