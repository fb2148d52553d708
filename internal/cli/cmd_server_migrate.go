package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/server/migrate"
	"github.com/parsec-go/parsec/internal/server/serve"
)

func (a *app) serverMigrateCmd() *cobra.Command {
	var from, fromBlocks, to, toBlocks string
	cmd := &cobra.Command{
		Use:   "migrate --from DB --from-blockstore BLOCKS --to DB --to-blockstore BLOCKS",
		Short: "Copy a deployment's stores into other stores (SQLite to PostgreSQL, disk to S3…)",
		Long: `Copy every organization of a deployment from one metadata store and block store to others,
for example from the embedded stores of one machine to PostgreSQL and an S3 bucket:

  parsec server migrate --from sqlite:/var/lib/parsec/metadata.db --from-blockstore disk:/var/lib/parsec/blocks \
    --to 'postgres://parsec:…@db:5432/parsec' --to-blockstore 's3://parsec-blocks?endpoint=…&region=…'

Stores are named as with "parsec server run" --db and --blockstore; any pair works. Stop the
servers of the source first: it must not change during the copy. The source is only read.

Each organization's metadata is written in one transaction, and a block is copied unless the
target already holds it: a copy interrupted can be run again and goes on where it stopped.
At the end every organization is read back from both metadata stores and compared, and
every block's SHA-256 is compared in both block stores; the command fails if anything
differs. It prints a summary of what it copied and checked.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range []struct{ name, value string }{{"--from", from}, {"--from-blockstore", fromBlocks}, {"--to", to}, {"--to-blockstore", toBlocks}} {
				if f.value == "" {
					return usageError{fmt.Errorf("%s is required (see parsec server migrate --help)", f.name)}
				}
			}
			if from == to || fromBlocks == toBlocks {
				return usageError{fmt.Errorf("the source and the target must be different stores")}
			}
			// Opening a missing SQLite file or directory would create an empty one.
			for _, f := range []struct{ name, value, scheme string }{{"--from", from, "sqlite:"}, {"--from-blockstore", fromBlocks, "disk:"}} {
				if strings.Contains(f.value, "://") {
					continue
				}
				if _, err := os.Stat(strings.TrimPrefix(f.value, f.scheme)); err != nil {
					return usageError{fmt.Errorf("%s %q: %v", f.name, f.value, err)}
				}
			}
			ctx := cmd.Context()
			var src, dst migrate.Stores
			var err error
			if src.Meta, err = serve.OpenMetastore(ctx, from, ""); err != nil {
				return err
			}
			defer src.Meta.Close()
			if src.Blocks, err = serve.OpenBlockstore(ctx, fromBlocks, "", src.Meta); err != nil {
				return err
			}
			defer src.Blocks.Close()
			if dst.Meta, err = serve.OpenMetastore(ctx, to, ""); err != nil {
				return err
			}
			defer dst.Meta.Close()
			if dst.Blocks, err = serve.OpenBlockstore(ctx, toBlocks, "", dst.Meta); err != nil {
				return err
			}
			defer dst.Blocks.Close()
			sum, err := migrate.Copy(ctx, src, dst, a.say)
			if err != nil {
				return err
			}
			if len(sum.Organizations) == 0 {
				return fmt.Errorf("no organization in the metadata store %s: nothing to copy", from)
			}
			copied := 0
			for _, o := range sum.Organizations {
				if !o.Skipped {
					copied++
				}
			}
			a.out("%d organizations (%d copied, %d already there), %d blocks (%d copied, %d already there): all identical in both stores (%d blocks checked by SHA-256).",
				len(sum.Organizations), copied, len(sum.Organizations)-copied, sum.BlocksCopied+sum.BlocksSkipped, sum.BlocksCopied, sum.BlocksSkipped, sum.BlocksChecked)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "metadata store to copy: sqlite:PATH or postgres://…")
	f.StringVar(&fromBlocks, "from-blockstore", "", "block store to copy: disk:PATH or s3://BUCKET?…")
	f.StringVar(&to, "to", "", "metadata store to copy into: postgres://… or sqlite:PATH")
	f.StringVar(&toBlocks, "to-blockstore", "", "block store to copy into: s3://BUCKET?… or disk:PATH")
	return cmd
}
