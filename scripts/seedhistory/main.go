package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func main() {
	db := flag.String("db", "", "PostgreSQL URL of a fresh Signet database, migrated by `signet migrate` (the seeder leaves the schema to signet)")
	var o Options
	flag.IntVar(&o.Users, "users", 100_000, "users, each with a device key, every other one with a passkey too")
	flag.IntVar(&o.Operations, "operations", 1_000_000, "operations (each with its creation and final audit events)")
	flag.IntVar(&o.Months, "months", 6, "calendar months the history spans, the current one included")
	flag.Uint64Var(&o.Seed, "seed", 1, "random seed of the amounts, states and times")
	flag.Parse()
	if *db == "" {
		fmt.Fprintln(os.Stderr, "seedhistory: -db is required")
		os.Exit(2)
	}
	o.Progress = os.Stderr
	if err := run(context.Background(), *db, o); err != nil {
		fmt.Fprintln(os.Stderr, "seedhistory:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url string, o Options) error {
	uuid.EnableRandPool()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	conn2, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn2.Close(ctx)
	start := time.Now()
	res, err := Seed(ctx, conn, conn2, o)
	if err != nil {
		return err
	}
	fmt.Printf("seeded %d users, %d credentials, %d operations, %d audit events (%s to %s, partitions %v) in %s\n",
		res.Users, res.Credentials, res.Operations, res.AuditEvents, res.Start.Format("2006-01-02"), res.End.Format("2006-01-02"),
		res.Partitions, time.Since(start).Round(time.Second))
	return nil
}
