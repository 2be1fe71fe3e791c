package async

import (
	"context"
	"iter"
	"strconv"

	"github.com/asyncredis/asyncredis/protocol"
)

// ScanArgs are SCAN's options; zero fields are left out.
type ScanArgs struct {
	Match string // glob pattern
	Count int64  // a hint of how many elements per page
	Type  string // SCAN only: keep keys of this type
}

// Page is one page of a SCAN-family command.
type Page struct {
	// Cursor continues the iteration; "0" when it has ended.
	Cursor string
	// Items are keys (SCAN), members (SSCAN), or alternating fields and
	// values (HSCAN) and members and scores (ZSCAN), as strings.
	Items []string
}

func toPage(v protocol.Value) (Page, error) {
	es, err := elems("Page", v)
	if err != nil {
		return Page{}, err
	}
	if len(es) != 2 {
		return Page{}, typeErr("Page", v)
	}
	cursor, err := ToString(es[0])
	if err != nil {
		return Page{}, err
	}
	items, err := ToStrings(es[1])
	if err != nil {
		return Page{}, err
	}
	return Page{Cursor: cursor, Items: items}, nil
}

func scanArgs(cmd, key, cursor string, a ScanArgs) []any {
	args := []any{cmd}
	if key != "" {
		args = append(args, key)
	}
	args = append(args, cursor)
	if a.Match != "" {
		args = append(args, "MATCH", a.Match)
	}
	if a.Count > 0 {
		args = append(args, "COUNT", strconv.FormatInt(a.Count, 10))
	}
	if a.Type != "" && cmd == "SCAN" {
		args = append(args, "TYPE", a.Type)
	}
	return args
}

// ScanPage fetches one page of SCAN from cursor ("0" to start), for workers
// that keep the cursor themselves.
func (c *Client) ScanPage(ctx context.Context, cursor string, a ScanArgs) *Future[Page] {
	return Cmd(ctx, c, toPage, scanArgs("SCAN", "", cursor, a)...)
}

// SScanPage, HScanPage and ZScanPage fetch one page of SSCAN, HSCAN, ZSCAN.
func (c *Client) SScanPage(ctx context.Context, key, cursor string, a ScanArgs) *Future[Page] {
	return Cmd(ctx, c, toPage, scanArgs("SSCAN", key, cursor, a)...)
}

// HScanPage fetches one page of HSCAN: fields and values alternate.
func (c *Client) HScanPage(ctx context.Context, key, cursor string, a ScanArgs) *Future[Page] {
	return Cmd(ctx, c, toPage, scanArgs("HSCAN", key, cursor, a)...)
}

// ZScanPage fetches one page of ZSCAN: members and scores alternate.
func (c *Client) ZScanPage(ctx context.Context, key, cursor string, a ScanArgs) *Future[Page] {
	return Cmd(ctx, c, toPage, scanArgs("ZSCAN", key, cursor, a)...)
}

// pages iterates a scan page by page; the first error ends it.
func pages(ctx context.Context, fetch func(cursor string) *Future[Page]) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		cursor := "0"
		for {
			p, err := fetch(cursor).Result()
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(p.Items, nil) || p.Cursor == "0" {
				return
			}
			cursor = p.Cursor
			if ctx.Err() != nil {
				yield(nil, ctx.Err())
				return
			}
		}
	}
}

// items flattens pages into single items.
func items(seq iter.Seq2[[]string, error]) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for page, err := range seq {
			if err != nil {
				yield("", err)
				return
			}
			for _, it := range page {
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

// Scan iterates the keys matching a, fetching pages lazily; breaking out
// of the loop stops fetching. An error is yielded once, last. As with
// SCAN itself, a key may appear more than once.
func (c *Client) Scan(ctx context.Context, a ScanArgs) iter.Seq2[string, error] {
	return items(pages(ctx, func(cur string) *Future[Page] { return c.ScanPage(ctx, cur, a) }))
}

// SScan iterates the members of a set.
func (c *Client) SScan(ctx context.Context, key string, a ScanArgs) iter.Seq2[string, error] {
	return items(pages(ctx, func(cur string) *Future[Page] { return c.SScanPage(ctx, key, cur, a) }))
}

// HScan iterates the fields and values of a hash.
func (c *Client) HScan(ctx context.Context, key string, a ScanArgs) iter.Seq2[[2]string, error] {
	return pairsOf(pages(ctx, func(cur string) *Future[Page] { return c.HScanPage(ctx, key, cur, a) }))
}

// ZScan iterates the members and scores of a sorted set.
func (c *Client) ZScan(ctx context.Context, key string, a ScanArgs) iter.Seq2[Z, error] {
	return func(yield func(Z, error) bool) {
		for p, err := range pairsOf(pages(ctx, func(cur string) *Future[Page] { return c.ZScanPage(ctx, key, cur, a) })) {
			if err != nil {
				yield(Z{}, err)
				return
			}
			score, err := strconv.ParseFloat(p[1], 64)
			if err != nil {
				yield(Z{}, &TypeError{Want: "float64", Got: protocol.KindBulkString, Text: p[1]})
				return
			}
			if !yield(Z{Member: p[0], Score: score}, nil) {
				return
			}
		}
	}
}

func pairsOf(seq iter.Seq2[[]string, error]) iter.Seq2[[2]string, error] {
	return func(yield func([2]string, error) bool) {
		for page, err := range seq {
			if err != nil {
				yield([2]string{}, err)
				return
			}
			for i := 0; i+1 < len(page); i += 2 {
				if !yield([2]string{page[i], page[i+1]}, nil) {
					return
				}
			}
		}
	}
}
