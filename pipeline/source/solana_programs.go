package source

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"

	"github.com/mr-tron/base58"
)

// Program decoding as solana-etl applies it to instructions the node did not
// parse. The layouts and parameter names (including the misspelt
// "open_opders_owner") are solana-etl's, so that decoded rows match its
// exports; see DecodeProgram for the quirks kept on purpose.

// Program IDs solana-etl decodes.
const (
	SerumDexV3ProgramID     = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
	MangoMarketsV3ProgramID = "mv3ekLzLbnVPNxjSKvqBpU3ZeZXPQdEC3bp5MDEBG68"
)

// Unspecified is Instruction.Type for a recognised program whose
// instruction is not decoded.
const Unspecified = "unspecified"

// DecodeProgram fills Program, Type and Params of an instruction of a
// program solana-etl decodes, and leaves other instructions unchanged:
//
//   - Mango Markets v3: program "mango-markets-v3", type "unspecified",
//     params {}.
//   - Serum DEX v3: program "serum-dex-v3"; the base58 data is a version
//     byte, a little-endian u32 instruction tag and the tag's fields; the
//     params are those fields then accounts by role, in solana-etl's order.
//     As in solana-etl, a field cut short by the end of the data reads as if
//     the missing high bytes were zero (signed fields from the bytes
//     present); consumeEvents lists open_orders as every distinct account,
//     sorted; an account index past the list is null and a negative one
//     counts from the end; newOrderV3's max_ts is read only when the data
//     holds all 58 bytes after the version byte and is 2^63-1 otherwise.
//     Where solana-etl fails — a tag above 20, data that is not base58 —
//     DecodeProgram sets type "unspecified" and params {} for an unknown
//     tag and returns an error for bad base58. An instruction without
//     accounts (parsed by the node) gets type "unspecified" and params {}.
func DecodeProgram(in *Instruction) error {
	switch in.ProgramID {
	case MangoMarketsV3ProgramID:
		in.Program, in.Type, in.Params = "mango-markets-v3", Unspecified, json.RawMessage("{}")
	case SerumDexV3ProgramID:
		in.Program = "serum-dex-v3"
		if in.Accounts == nil {
			in.Type, in.Params = Unspecified, json.RawMessage("{}")
			return nil
		}
		var data []byte
		if in.Data != "" {
			var err error
			if data, err = base58.Decode(in.Data); err != nil {
				return ferr("data", fmt.Errorf("not base58: %v", err))
			}
		}
		in.Type, in.Params = decodeSerum(data, in.Accounts)
	}
	return nil
}

// serumKind says how one parameter is read.
type serumKind uint8

const (
	sU8 serumKind = iota
	sU16
	sU32
	sU64
	sU128
	sI64
	sMaxTS     // newOrderV3's optional trailing i64
	sClientIDs // cancelOrdersByClientIds' list of u64
	sAccount   // accounts[arg], negative counting from the end
	sFromEnd   // accounts[len-arg]
	sDistinct  // every distinct account, sorted
)

type serumParam struct {
	name string
	kind serumKind
	arg  int
}

func acct(name string, i int) serumParam        { return serumParam{name, sAccount, i} }
func field(name string, k serumKind) serumParam { return serumParam{name, k, 0} }

var serumNewOrderAccounts = []serumParam{
	acct("market", 0), acct("open_orders", 1), acct("request_queue", 2), acct("paying", 3),
	acct("open_opders_owner", 4), acct("coin_vault", 5), acct("pc_vault", 6), acct("token_program", 7),
	acct("rent_sysvar", 8), acct("srm", 9),
}

var serumReplaceAccounts = []serumParam{
	acct("market", 0), acct("open_orders", 1), acct("request_queue", 2), acct("event_queue", 3),
	acct("bids", 4), acct("asks", 5), acct("paying", 6), acct("open_opders_owner", 7),
	acct("coin_vault", 8), acct("pc_vault", 9), acct("token_program", 10), acct("rent_sysvar", 11), acct("srm", 12),
}

var serumCancelV2Accounts = []serumParam{
	acct("market", 0), acct("bids", 1), acct("asks", 2), acct("open_orders", 3), acct("owner", 4), acct("event_queue", 5),
}

// serumInstructions lists each tag's name and parameters, indexed by tag.
var serumInstructions = []struct {
	name   string
	params []serumParam
}{
	{"initializeMarket", []serumParam{
		field("coin_lot_size", sU64), field("pc_lot_size", sU64), field("fee_rate_bps", sU16),
		field("vault_signer_nonce", sU64), field("pc_dust_threshold", sU64),
		acct("market", 0), acct("request_queue", 1), acct("event_queue", 2), acct("bids", 3), acct("asks", 4),
		acct("coin_currency", 5), acct("price_currency", 6), acct("coin_currency_mint", 7),
		acct("price_currency_mint", 8), acct("rent_sysvar", 9), acct("open_orders_market_authority", 10),
		acct("prune_authority", 11), acct("crank_authority", 12),
	}},
	{"newOrder", slices.Concat([]serumParam{
		field("side", sU32), field("limit_price", sU64), field("max_qty", sU64), field("order_type", sU32), field("client_id", sU64),
	}, serumNewOrderAccounts)},
	{"matchOrders", []serumParam{
		field("limit", sU16), acct("market", 0), acct("request_queue", 1), acct("event_queue", 2), acct("bids", 3), acct("asks", 4),
	}},
	{"consumeEvents", []serumParam{
		field("limit", sU16), {"open_orders", sDistinct, 0}, {"market", sFromEnd, 4}, {"event_queue", sFromEnd, 3},
	}},
	{"cancelOrder", []serumParam{
		field("side", sU32), field("order_id", sU128), field("owner", sU64), field("owner_slot", sU8),
		acct("market", 0), acct("open_orders", 1), acct("request_queue", 2), acct("open_orders_owner", 3),
	}},
	{"settleFunds", []serumParam{
		acct("market", 0), acct("open_orders", 1), acct("open_orders_owner", 2), acct("coin_vault", 3), acct("pc_vault", 4),
		acct("coin_wallet", 5), acct("pc_wallet", 6), acct("vault_signer", 7), acct("token_program", 8), acct("ref_pc_wallet", 9),
	}},
	{"cancelOrderByClientId", []serumParam{
		field("client_id", sU64), acct("market", 0), acct("open_orders", 1), acct("request_queue", 2), acct("open_orders_owner", 3),
	}},
	{"disableMarket", []serumParam{acct("market", 0), acct("disable_authority", 1)}},
	{"sweepFees", []serumParam{
		acct("market", 0), acct("pc_vault", 1), acct("fee_sweeping_authority", 2), acct("fee_receivable", 3),
		acct("vault_signer", 4), acct("token_program", 5),
	}},
	{"newOrderV2", slices.Concat([]serumParam{
		field("side", sU32), field("limit_price", sU64), field("max_qty", sU64), field("order_type", sU32),
		field("client_id", sU64), field("self_trade_behavior", sU32),
	}, serumNewOrderAccounts)},
	{"newOrderV3", slices.Concat([]serumParam{
		field("side", sU32), field("limit_price", sU64), field("max_coin_qty", sU64),
		field("max_native_pc_qty_including_fees", sU64), field("self_trade_behavior", sU32), field("order_type", sU32),
		field("client_id", sU64), field("limit", sU16), field("max_ts", sMaxTS),
	}, serumNewOrderAccounts)},
	{"cancelOrderV2", slices.Concat([]serumParam{field("side", sU32), field("order_id", sU128)}, serumCancelV2Accounts)},
	{"cancelOrderByClientIdV2", slices.Concat([]serumParam{field("client_id", sU64)}, serumCancelV2Accounts)},
	{"sendTake", []serumParam{
		field("side", sU32), field("limit_price", sU64), field("max_coin_qty", sU64),
		field("max_native_pc_qty_including_fees", sU64), field("min_coin_qty", sU64),
		field("min_native_pc_qty_including_fees", sU64), field("limit", sU16),
		acct("market", 0), acct("request_queue", 1), acct("event_queue", 2), acct("bids", 3), acct("asks", 4),
		acct("coin_wallet", 5), acct("pc_wallet", 6), acct("signer", 7), acct("coin_vault", 8), acct("pc_vault", 9),
		acct("token_program", 10), acct("srm", 11),
	}},
	{"closeOpenOrders", []serumParam{acct("open_orders", 0), acct("open_opders_owner", 1), acct("market", 2)}},
	{"initOpenOrders", []serumParam{
		acct("market", 0), acct("bids", 1), acct("asks", 2), acct("prune_authority", 3), acct("open_orders", 4),
		acct("open_opders_owner", 5), acct("event_queue", 6),
	}},
	{"prune", []serumParam{
		field("limit", sU16), acct("market", 0), acct("bids", 1), acct("asks", 2), acct("prune_authority", 3),
		acct("open_orders", 4), acct("open_opders_owner", 5), acct("event_queue", 6),
	}},
	{"consumeEventsPermissioned", []serumParam{
		field("limit", sU16), {"open_orders", sDistinct, 0}, {"market", sFromEnd, 3}, {"event_queue", sFromEnd, 2},
		{"crank_authority", sFromEnd, 1},
	}},
	{"cancelOrdersByClientIds", slices.Concat([]serumParam{field("client_ids", sClientIDs)}, []serumParam{
		acct("market", 0), acct("bids", 1), acct("asks", 2), acct("open_orders", 3), acct("open_opders_owner", 4), acct("event_queue", 5),
	})},
	{"replaceOrderByClientId", slices.Concat([]serumParam{
		field("side", sU32), field("limit_price", sU64), field("max_coin_qty", sU64),
		field("max_native_pc_qty_including_fees", sU64), field("self_trade_behavior", sU32), field("order_type", sU32),
		field("client_id", sU64), field("limit", sU16), field("max_ts", sI64),
	}, serumReplaceAccounts)},
	{"replaceOrdersByClientIds", serumReplaceAccounts},
}

// fieldSize is the width in bytes of the fixed-size kinds.
var fieldSize = map[serumKind]int{sU8: 1, sU16: 2, sU32: 4, sU64: 8, sU128: 16, sI64: 8}

// newOrderV3Size is the length of newOrderV3 data with max_ts, after the
// version byte.
const newOrderV3Size = 58

// decodeSerum decodes Serum DEX v3 instruction data (with its version byte)
// into an instruction type and canonical params.
func decodeSerum(data []byte, accounts []string) (string, json.RawMessage) {
	if len(data) > 0 {
		data = data[1:] // the version byte
	}
	tag := readUint(data, 0, 4)
	if !tag.IsUint64() || tag.Uint64() >= uint64(len(serumInstructions)) {
		return Unspecified, json.RawMessage("{}")
	}
	spec := serumInstructions[tag.Uint64()]
	off := 4
	out := []byte{'{'}
	for i, p := range spec.params {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, p.name)
		out = append(out, ':')
		switch p.kind {
		case sU8, sU16, sU32, sU64, sU128:
			n := fieldSize[p.kind]
			out = readUint(data, off, n).Append(out, 10)
			off += n
		case sI64:
			out = strconv.AppendInt(out, readInt(data, off, 8), 10)
			off += 8
		case sMaxTS:
			if len(data) == newOrderV3Size {
				out = strconv.AppendInt(out, readInt(data, off, 8), 10)
				off += 8
			} else {
				out = strconv.AppendInt(out, 1<<63-1, 10)
			}
		case sClientIDs:
			out = append(out, '[')
			for k := 0; k < len(data)/8; k++ {
				if k > 0 {
					out = append(out, ',')
				}
				out = readUint(data, off, 8).Append(out, 10)
				off += 8
			}
			out = append(out, ']')
		case sAccount:
			out = appendAccount(out, accounts, p.arg)
		case sFromEnd:
			out = appendAccount(out, accounts, len(accounts)-p.arg)
		case sDistinct:
			distinct := slices.Compact(slices.Sorted(slices.Values(accounts)))
			out = append(out, '[')
			for k, a := range distinct {
				if k > 0 {
					out = append(out, ',')
				}
				out = appendJSONString(out, a)
			}
			out = append(out, ']')
		}
	}
	return spec.name, append(out, '}')
}

// readUint reads n little-endian bytes at off; bytes past the end of data
// count as zero.
func readUint(data []byte, off, n int) *big.Int {
	var buf [16]byte
	if off < len(data) {
		copy(buf[:n], data[off:min(off+n, len(data))])
	}
	if n <= 8 {
		return new(big.Int).SetUint64(binary.LittleEndian.Uint64(buf[:8]))
	}
	be := make([]byte, n)
	for i := range n {
		be[n-1-i] = buf[i]
	}
	return new(big.Int).SetBytes(be)
}

// readInt reads a little-endian two's-complement integer of the bytes
// available at off, at most n: a value cut short is read at the width
// present, and nothing reads as zero.
func readInt(data []byte, off, n int) int64 {
	if off >= len(data) {
		return 0
	}
	b := data[off:min(off+n, len(data))]
	var u uint64
	for i := len(b) - 1; i >= 0; i-- {
		u = u<<8 | uint64(b[i])
	}
	shift := 64 - 8*uint(len(b))
	return int64(u<<shift) >> shift
}

func appendAccount(out []byte, accounts []string, i int) []byte {
	if i < 0 {
		i += len(accounts)
	}
	if i < 0 || i >= len(accounts) {
		return append(out, "null"...)
	}
	return appendJSONString(out, accounts[i])
}
