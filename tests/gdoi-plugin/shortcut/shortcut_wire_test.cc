// SPDX-License-Identifier: GPL-2.0-or-later
// The shortcut message codec: known answers, round trips, and the errors
// of every check (docs/shortcuts.md).
#include "shortcut_test_util.h"

using namespace shortcut_test;

namespace {

Bytes unhex(const std::string &s)
{
	std::string clean;
	for (char c : s)
		if (c != ' ')
			clean += c;
	Bytes out;
	for (size_t i = 0; i + 1 < clean.size(); i += 2)
		out.push_back(static_cast<uint8_t>(std::stoi(clean.substr(i, 2), nullptr, 16)));
	return out;
}

ShortcutMessage sample_offer()
{
	ShortcutMessage m;
	m.epoch = 0x01020304;
	m.sequence = 1;
	m.shortcut_id = 5;
	Offer o;
	o.suite = Suite{20, 128, 0};
	o.lifetime_s = 3600;
	o.spi_in = 0x1000a001;
	o.spi_out = 0x1000b002;
	o.peer_outside = ip("198.51.100.20", 4500);
	o.local_inside = prefix("10.1.0.5/32");
	o.peer_inside = prefix("10.2.0.9/32");
	o.key_in = SecretBytes(20, 0x11);
	o.key_out = SecretBytes(20, 0x22);
	m.body = o;
	return m;
}

const char *kOfferHex = "01 01 0068 01020304 0000000000000001 00000005"
			" 0014 0080 0000 0000 00000e10 1000a001 1000b002"
			" 04 00 1194 c6336414"
			" 04 20 0a010005"
			" 04 20 0a020009"
			" 0014 1111111111111111111111111111111111111111"
			" 0014 2222222222222222222222222222222222222222";

Offer &offer_of(ShortcutMessage &m)
{
	return std::get<Offer>(m.body);
}

void expect_error(ByteView b, WireError code, const std::string &words)
{
	auto r = decode_shortcut_message(b);
	ASSERT_FALSE(r.ok()) << words;
	EXPECT_EQ(r.error().code, code) << r.error().message;
	EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
}

void expect_refused(const ShortcutMessage &m, WireError code)
{
	auto e = encode_shortcut_message(m);
	ASSERT_FALSE(e.ok());
	EXPECT_EQ(e.error().code, code) << e.error().message;
}

TEST(ShortcutWire, KnownAnswerOffer)
{
	auto e = encode_shortcut_message(sample_offer());
	ASSERT_TRUE(e.ok()) << e.error().message;
	EXPECT_EQ(Bytes(e.value()), unhex(kOfferHex));
	auto d = decode_shortcut_message(unhex(kOfferHex));
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_TRUE(d.value() == sample_offer());
	EXPECT_EQ(d.value().type(), MsgType::Offer);
}

TEST(ShortcutWire, KnownAnswersOfTheShortMessages)
{
	ShortcutMessage m;
	m.epoch = 0x0a0b0c0d;
	m.sequence = 7;
	m.shortcut_id = 3;
	m.body = Go{};
	EXPECT_EQ(Bytes(encode_shortcut_message(m).value()), unhex("01 02 0014 0a0b0c0d 0000000000000007 00000003"));
	m.body = Teardown{TeardownReason::PeerInside};
	EXPECT_EQ(Bytes(encode_shortcut_message(m).value()),
		  unhex("01 04 0018 0a0b0c0d 0000000000000007 00000003 02 00 0000"));
	m.body = Ack{MsgType::Go, AckStatus::KernelFailed};
	EXPECT_EQ(Bytes(encode_shortcut_message(m).value()),
		  unhex("01 80 0018 0a0b0c0d 0000000000000007 00000003 02 02 0000"));
	m.body = PeerMoved{ip("2001:db8::7", 0)};
	EXPECT_EQ(Bytes(encode_shortcut_message(m).value()),
		  unhex("01 03 0028 0a0b0c0d 0000000000000007 00000003 06 00 0000 20010db8000000000000000000000007"));
}

TEST(ShortcutWire, RoundTripsIpv6AndCbc)
{
	ShortcutMessage m = sample_offer();
	Offer &o = offer_of(m);
	o.suite = Suite{12, 256, 12};
	o.peer_outside = ip("2001:db8:1::20", 0);
	o.local_inside = prefix("fd00:1::/64");
	o.peer_inside = prefix("fd00:2::/64");
	o.key_in = SecretBytes(64, 0x33);
	o.key_out = SecretBytes(64, 0x44);
	auto e = encode_shortcut_message(m);
	ASSERT_TRUE(e.ok()) << e.error().message;
	auto d = decode_shortcut_message(e.value());
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_TRUE(d.value() == m);
	for (auto body : std::vector<decltype(m.body)>{Go{}, PeerMoved{ip("192.0.2.1", 4500)},
						       Teardown{TeardownReason::Renewal},
						       Ack{MsgType::Teardown, AckStatus::UnknownShortcut}}) {
		m.body = body;
		auto again = decode_shortcut_message(encode_shortcut_message(m).value());
		ASSERT_TRUE(again.ok());
		EXPECT_TRUE(again.value() == m) << msg_type_name(m.type());
	}
}

TEST(ShortcutWire, EveryTruncationIsAnError)
{
	Bytes b = unhex(kOfferHex);
	for (size_t n = 0; n < b.size(); n++) {
		Bytes cut(b.begin(), b.begin() + static_cast<long>(n));
		if (n >= 4) { // keep the length field right, so the body is what is short
			cut[2] = static_cast<uint8_t>(n >> 8);
			cut[3] = static_cast<uint8_t>(n);
		}
		auto r = decode_shortcut_message(cut);
		EXPECT_FALSE(r.ok()) << n;
	}
}

TEST(ShortcutWire, HeaderErrors)
{
	Bytes b = unhex(kOfferHex);
	Bytes v = b;
	v[0] = 2;
	expect_error(v, WireError::BadVersion, "version 2");
	Bytes l = b;
	l[3] = 0x67;
	expect_error(l, WireError::BadLength, "length field 103 but 104");
	Bytes t = unhex("01 09 0014 0a0b0c0d 0000000000000007 00000003");
	expect_error(t, WireError::Unsupported, "unknown type 9");
	Bytes s = unhex("01 02 0014 0a0b0c0d 0000000000000000 00000003");
	expect_error(s, WireError::BadValue, "sequence number 0");
	Bytes i = unhex("01 02 0014 0a0b0c0d 0000000000000001 00000000");
	expect_error(i, WireError::BadValue, "shortcut ID 0");
	Bytes trailing = unhex("01 02 0015 0a0b0c0d 0000000000000001 00000001 00");
	expect_error(trailing, WireError::TrailingBytes, "1 octets after the GO body");
	Bytes big(kShortcutMaxSize + 1, 0);
	big[0] = 1;
	big[1] = 2;
	big[2] = static_cast<uint8_t>(big.size() >> 8);
	big[3] = static_cast<uint8_t>(big.size());
	expect_error(big, WireError::BadLength, "longer than 1024");
}

TEST(ShortcutWire, BodyErrors)
{
	Bytes ok = unhex(kOfferHex);
	auto with = [&](size_t at, uint8_t v) {
		Bytes b = ok;
		b[at] = v;
		return b;
	};
	// offsets: suite 20, lifetime 28, SPIs 32/36, endpoint 40, prefixes 48 and 54, keys 60 and 82
	expect_error(with(21, 21), WireError::Unsupported, "cipher suite 21/128/0");
	expect_error(with(25, 12), WireError::Unsupported, "cipher suite 20/128/12");
	expect_error([&] { Bytes b = ok; b[30] = b[31] = 0; return b; }(), WireError::BadValue, "lifetime 0");
	expect_error([&] { Bytes b = ok; b[32] = b[33] = b[34] = 0; b[35] = 0xff; return b; }(),
		     WireError::BadValue, "SPI below 256");
	expect_error([&] { Bytes b = ok; std::copy(b.begin() + 32, b.begin() + 36, b.begin() + 36); return b; }(),
		     WireError::BadValue, "same");
	expect_error(with(40, 5), WireError::BadValue, "peer outside address: address family not 4 or 6");
	expect_error(with(44, 0xe0), WireError::BadValue, "is not a unicast address");
	expect_error(with(49, 33), WireError::BadValue, "prefix length 33 too large");
	expect_error(with(49, 16), WireError::BadValue, "host bits set");
	expect_error([&] { Bytes b = ok; b[61] = 0x13; b.erase(b.begin() + 62); b[3] = 103; return b; }(),
		     WireError::BadLength, "keying material of 19 and 20 octets, the suite needs 20");
	expect_error(with(61, 0x15), WireError::Truncated, "outbound key");
	// a 6-family peer prefix with 4 octets runs into the keys: an error either way
	EXPECT_FALSE(decode_shortcut_message(with(54, 6)).ok());

	expect_error(unhex("01 04 0018 0a0b0c0d 0000000000000007 00000003 07 00 0000"), WireError::BadValue,
		     "unknown teardown reason 7");
	expect_error(unhex("01 04 0018 0a0b0c0d 0000000000000007 00000003 00 00 0000"), WireError::BadValue,
		     "unknown teardown reason 0");
	expect_error(unhex("01 80 0018 0a0b0c0d 0000000000000007 00000003 80 00 0000"), WireError::BadValue,
		     "an ack of type 128");
	expect_error(unhex("01 80 0018 0a0b0c0d 0000000000000007 00000003 01 07 0000"), WireError::BadValue,
		     "unknown ack status 7");
	expect_error(unhex("01 03 0018 0a0b0c0d 0000000000000007 00000003 04 00 0000"), WireError::Truncated,
		     "peer outside address");
}

TEST(ShortcutWire, EncoderRefusesWhatTheDecoderRefuses)
{
	ShortcutMessage m = sample_offer();
	offer_of(m).key_out.resize(19);
	expect_refused(m, WireError::BadLength);
	m = sample_offer();
	offer_of(m).spi_out = offer_of(m).spi_in;
	expect_refused(m, WireError::BadValue);
	m = sample_offer();
	offer_of(m).peer_inside = prefix("fd00::/64");
	expect_refused(m, WireError::BadValue);
	m = sample_offer();
	offer_of(m).local_inside.length = 8; // 10.1.0.5/8 has host bits
	expect_refused(m, WireError::BadValue);
	m = sample_offer();
	m.sequence = 0;
	expect_refused(m, WireError::BadValue);
	m.sequence = 1;
	m.body = Ack{MsgType::Ack, AckStatus::Ok};
	expect_refused(m, WireError::BadValue);
	m.body = PeerMoved{ip("0.0.0.0")};
	expect_refused(m, WireError::BadValue);
}

TEST(ShortcutWire, Prefixes)
{
	EXPECT_TRUE(prefix("10.1.0.0/16").contains(ip("10.1.200.3").ip));
	EXPECT_FALSE(prefix("10.1.0.0/16").contains(ip("10.2.0.3").ip));
	EXPECT_FALSE(prefix("10.1.0.0/16").contains(ip("2001:db8::1").ip));
	EXPECT_EQ(net::range_text(prefix("10.1.0.0/16").selector()), "10.1.0.0/16");
	EXPECT_FALSE(parse_prefix("10.1.0.1/16").ok());
	EXPECT_FALSE(parse_prefix("10.1.0.1-10.1.0.7").ok());
	EXPECT_FALSE(parse_prefix("gw").ok());
}

} // namespace
