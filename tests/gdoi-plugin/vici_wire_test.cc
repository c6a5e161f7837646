// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/vici/vici_wire.h"

#include <gtest/gtest.h>

#include "gikev2_test_util.h"

using namespace groupsec::gdoi;
using namespace groupsec::vici;
using groupsec::gdoi::test::hex;

namespace {

Bytes bytes(std::initializer_list<int> v)
{
	Bytes out;
	for (int c : v)
		out.push_back(static_cast<uint8_t>(c));
	return out;
}

Bytes text(const std::string &s)
{
	return Bytes(s.begin(), s.end());
}

Bytes cat(std::initializer_list<Bytes> parts)
{
	Bytes out;
	for (const Bytes &p : parts)
		out.insert(out.end(), p.begin(), p.end());
	return out;
}

// The encoding example of strongSwan's vici README.
const Bytes kReadmeExample = cat({
        bytes({3, 4}), text("key1"), bytes({0, 6}), text("value1"),
        bytes({1, 8}), text("section1"),
        bytes({1, 11}), text("sub-section"),
        bytes({3, 4}), text("key2"), bytes({0, 6}), text("value2"),
        bytes({2}),
        bytes({4, 5}), text("list1"),
        bytes({5, 0, 5}), text("item1"),
        bytes({5, 0, 5}), text("item2"),
        bytes({6}),
        bytes({2}),
});

Section readme_tree()
{
	Section root;
	root.add_value("key1", "value1");
	Section &s1 = root.add_section("section1");
	s1.add_section("sub-section").add_value("key2", "value2");
	s1.add_list("list1", {"item1", "item2"});
	return root;
}

void expect_rejected(const Bytes &message, WireError code, const std::string &fragment)
{
	auto r = decode_message(message);
	ASSERT_FALSE(r.ok()) << "accepted: " << fragment;
	EXPECT_EQ(r.error().code, code) << r.error().message;
	EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

TEST(ViciWire, EncodesTheReadmeExample)
{
	auto e = encode_message(readme_tree());
	ASSERT_TRUE(e.ok()) << e.error().message;
	EXPECT_EQ(e.value(), kReadmeExample);
}

TEST(ViciWire, DecodesTheReadmeExample)
{
	auto d = decode_message(kReadmeExample);
	ASSERT_TRUE(d.ok()) << d.error().message;
	const Section &root = d.value();
	EXPECT_EQ(root, readme_tree());
	ASSERT_NE(root.value("key1"), nullptr);
	EXPECT_EQ(*root.value("key1"), "value1");
	const Section *s1 = root.section("section1");
	ASSERT_NE(s1, nullptr);
	ASSERT_NE(s1->section("sub-section"), nullptr);
	EXPECT_EQ(*s1->section("sub-section")->value("key2"), "value2");
	ASSERT_NE(s1->list("list1"), nullptr);
	EXPECT_EQ(*s1->list("list1"), (std::vector<std::string>{"item1", "item2"}));
	// lookups by the wrong kind find nothing
	EXPECT_EQ(root.section("key1"), nullptr);
	EXPECT_EQ(s1->value("list1"), nullptr);
	EXPECT_EQ(root.list("section1"), nullptr);
}

TEST(ViciWire, RoundTripsBinaryValuesEmptyListsAndDeepSections)
{
	Section root;
	root.add_value("blob", std::string("\0\x01\xff\n", 4));
	root.add_value("empty", "");
	root.add_list("none", {});
	root.add_list("items", {std::string(1, '\0'), "", std::string(kMaxValueLength, 'x')});
	root.add_section("hollow");
	Section *s = &root;
	for (size_t depth = 1; depth <= kMaxDepth; depth++)
		s = &s->add_section("level " + std::to_string(depth));
	s->add_value("bottom", "yes");
	root.add_value(std::string(kMaxNameLength, 'n'), "long name");

	auto e = encode_message(root);
	ASSERT_TRUE(e.ok()) << e.error().message;
	auto d = decode_message(e.value());
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_EQ(d.value(), root);
	EXPECT_EQ(d.value().list("items")->at(2).size(), kMaxValueLength);
	EXPECT_TRUE(d.value().section("hollow")->empty());
	EXPECT_TRUE(d.value().list("none")->empty());
}

TEST(ViciWire, EmptyMessageIsTheEmptyRootSection)
{
	auto d = decode_message(Bytes());
	ASSERT_TRUE(d.ok());
	EXPECT_TRUE(d.value().empty());
	EXPECT_TRUE(encode_message(Section()).value().empty());
}

TEST(ViciWire, RejectsTruncatedElements)
{
	expect_rejected(bytes({3}), WireError::Truncated, "name length missing");
	expect_rejected(cat({bytes({3, 4}), text("key")}), WireError::Truncated, "name of 4 octets runs past");
	expect_rejected(cat({bytes({3, 4}), text("key1")}), WireError::Truncated, "value of 'key1': length missing");
	expect_rejected(cat({bytes({3, 4}), text("key1"), bytes({0})}), WireError::Truncated, "length missing");
	expect_rejected(cat({bytes({3, 4}), text("key1"), bytes({0, 6}), text("value")}), WireError::Truncated,
	                "6 octets run past the end (5 left)");
	expect_rejected(cat({bytes({4, 1}), text("l"), bytes({5, 0, 2}), text("x")}), WireError::Truncated,
	                "item of list 'l'");
	expect_rejected(bytes({1}), WireError::Truncated, "name length missing");
}

TEST(ViciWire, RejectsUnbalancedSectionsAndLists)
{
	expect_rejected(cat({bytes({1, 1}), text("s")}), WireError::Truncated, "ends inside section 's'");
	expect_rejected(cat({bytes({1, 1}), text("a"), bytes({1, 1}), text("b"), bytes({2})}), WireError::Truncated,
	                "ends inside section 'a'");
	expect_rejected(cat({bytes({4, 1}), text("l"), bytes({5, 0, 0})}), WireError::Truncated,
	                "ends inside list 'l'");
	expect_rejected(bytes({2}), WireError::BadValue, "SECTION_END without an open section");
	expect_rejected(cat({bytes({1, 1}), text("s"), bytes({2, 2})}), WireError::BadValue,
	                "octet 4: SECTION_END without");
	expect_rejected(bytes({5, 0, 0}), WireError::BadValue, "LIST_ITEM outside a list");
	expect_rejected(bytes({6}), WireError::BadValue, "LIST_END without an open list");
}

TEST(ViciWire, RejectsElementsInsideALists)
{
	Bytes open = cat({bytes({4, 1}), text("l")});
	expect_rejected(cat({open, bytes({3, 1}), text("k"), bytes({0, 0}), bytes({6})}), WireError::BadValue,
	                "KEY_VALUE inside list 'l'");
	expect_rejected(cat({open, bytes({1, 1}), text("s"), bytes({2, 6})}), WireError::BadValue,
	                "SECTION_START inside list 'l'");
	expect_rejected(cat({open, bytes({4, 1}), text("m"), bytes({6, 6})}), WireError::BadValue,
	                "LIST_START inside list 'l'");
	expect_rejected(cat({open, bytes({2})}), WireError::BadValue, "SECTION_END inside list 'l'");
}

TEST(ViciWire, RejectsUnknownElementTypes)
{
	expect_rejected(bytes({0}), WireError::BadValue, "unknown element type 0");
	expect_rejected(bytes({7}), WireError::BadValue, "unknown element type 7");
	expect_rejected(cat({bytes({3, 1}), text("k"), bytes({0, 0, 0xff})}), WireError::BadValue,
	                "octet 5: unknown element type 255");
}

TEST(ViciWire, RejectsDuplicateAndBadNames)
{
	Bytes kv = cat({bytes({3, 1}), text("k"), bytes({0, 1}), text("v")});
	expect_rejected(cat({kv, kv}), WireError::Duplicate, "name 'k' used twice in the root section");
	// a list and a key/value of one name collide too
	expect_rejected(cat({kv, bytes({4, 1}), text("k"), bytes({6})}), WireError::Duplicate, "'k' used twice");
	expect_rejected(cat({bytes({1, 1}), text("s"), kv, kv, bytes({2})}), WireError::Duplicate,
	                "used twice in section 's'");
	// the same name in different sections is fine
	auto ok = decode_message(cat({kv, bytes({1, 1}), text("s"), kv, bytes({2})}));
	EXPECT_TRUE(ok.ok()) << ok.error().message;

	expect_rejected(bytes({3, 0, 0, 0}), WireError::BadValue, "empty name");
	expect_rejected(cat({bytes({3, 2}), text("a\n"), bytes({0, 0})}), WireError::BadValue,
	                "octet 10, not printable");
	expect_rejected(cat({bytes({1, 2, 'a', 0x80}), bytes({2})}), WireError::BadValue, "not printable");
}

TEST(ViciWire, LimitsNesting)
{
	Bytes deep;
	for (size_t i = 0; i <= kMaxDepth; i++) {
		deep.push_back(1);
		deep.push_back(1);
		deep.push_back('s');
	}
	for (size_t i = 0; i <= kMaxDepth; i++)
		deep.push_back(2);
	expect_rejected(deep, WireError::BadValue, "nested deeper than 32");
	// one level less is accepted
	Bytes ok(deep.begin() + 3, deep.end() - 1);
	EXPECT_TRUE(decode_message(ok).ok());

	Section root;
	Section *s = &root;
	for (size_t depth = 0; depth <= kMaxDepth; depth++)
		s = &s->add_section("s");
	auto e = encode_message(root);
	ASSERT_FALSE(e.ok());
	EXPECT_EQ(e.error().code, WireError::BadValue);
}

TEST(ViciWire, RejectsOversizedMessages)
{
	Bytes big;
	for (size_t i = 0; big.size() <= kMaxPacket; i++) {
		std::string name = "k" + std::to_string(i);
		big.push_back(3);
		big.push_back(static_cast<uint8_t>(name.size()));
		big.insert(big.end(), name.begin(), name.end());
		big.push_back(0xff);
		big.push_back(0xff);
		big.insert(big.end(), 0xffff, 'v');
	}
	expect_rejected(big, WireError::BadLength, "over the limit of 524288");

	Section root;
	for (size_t i = 0; i * 0x10000 <= kMaxPacket; i++)
		root.add_value("k" + std::to_string(i), std::string(kMaxValueLength, 'v'));
	auto e = encode_message(root);
	ASSERT_FALSE(e.ok());
	EXPECT_EQ(e.error().code, WireError::BadLength);
}

TEST(ViciWire, EncoderChecksWhatTheBuildersDoNot)
{
	struct Case {
		Section root;
		WireError code;
		std::string fragment;
	};
	std::vector<Case> cases(6);
	cases[0].root.add_value("", "v");
	cases[0].code = WireError::BadValue;
	cases[0].fragment = "empty name";
	cases[1].root.add_value(std::string(256, 'n'), "v");
	cases[1].code = WireError::BadValue;
	cases[1].fragment = "256 octets";
	cases[2].root.add_value("k", std::string(kMaxValueLength + 1, 'v'));
	cases[2].code = WireError::BadLength;
	cases[2].fragment = "value of 'k'";
	cases[3].root.add_list("l", {"ok", std::string(kMaxValueLength + 1, 'v')});
	cases[3].code = WireError::BadLength;
	cases[3].fragment = "item of list 'l'";
	cases[4].root.add_value("k", "1").add_section("k");
	cases[4].code = WireError::Duplicate;
	cases[4].fragment = "'k' used twice";
	cases[5].root.add_section("s").add_value("tab\there", "v");
	cases[5].code = WireError::BadValue;
	cases[5].fragment = "section 's'";
	for (const Case &c : cases) {
		auto e = encode_message(c.root);
		ASSERT_FALSE(e.ok()) << c.fragment;
		EXPECT_EQ(e.error().code, c.code) << e.error().message;
		EXPECT_NE(e.error().message.find(c.fragment), std::string::npos) << e.error().message;
	}
}

TEST(ViciWire, EveryStrictPrefixOfASectionIsRejected)
{
	Section root;
	root.add_section("outer") = readme_tree();
	Bytes full = encode_message(root).value();
	for (size_t n = 1; n < full.size(); n++) {
		auto d = decode_message(ByteView(full.data(), n));
		EXPECT_FALSE(d.ok()) << "prefix of " << n << " octets accepted";
	}
	EXPECT_TRUE(decode_message(full).ok());
}

TEST(ViciPacket, EncodesARequestWithItsLengthHeader)
{
	Packet p;
	p.op = Operation::CmdRequest;
	p.name = "rekey";
	p.message.add_value("group", "blue");
	auto e = encode_packet(p);
	ASSERT_TRUE(e.ok()) << e.error().message;
	EXPECT_EQ(e.value(), cat({bytes({0, 0, 0, 20, 0, 5}), text("rekey"), bytes({3, 5}), text("group"),
	                          bytes({0, 4}), text("blue")}));
	auto d = decode_packet(ByteView(e.value().data() + 4, e.value().size() - 4));
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_EQ(d.value(), p);
}

TEST(ViciPacket, RoundTripsEveryOperation)
{
	for (uint8_t op = 0; op <= 7; op++) {
		Packet p;
		p.op = static_cast<Operation>(op);
		if (operation_has_name(p.op))
			p.name = "list-sa";
		if (operation_has_message(p.op))
			p.message = readme_tree();
		auto payload = encode_packet_payload(p);
		ASSERT_TRUE(payload.ok()) << operation_name(p.op) << ": " << payload.error().message;
		EXPECT_EQ(payload.value()[0], op);
		auto d = decode_packet(payload.value());
		ASSERT_TRUE(d.ok()) << operation_name(p.op) << ": " << d.error().message;
		EXPECT_EQ(d.value(), p) << operation_name(p.op);
	}
	EXPECT_EQ(encode_packet_payload(Packet{Operation::CmdUnknown, "", {}}).value(), bytes({2}));
	EXPECT_EQ(encode_packet_payload(Packet{Operation::EventConfirm, "", {}}).value(), bytes({5}));
	EXPECT_EQ(encode_packet_payload(Packet{Operation::EventRegister, "ike-updown", {}}).value(),
	          cat({bytes({3, 10}), text("ike-updown")}));
}

TEST(ViciPacket, RejectsMalformedPackets)
{
	struct Case {
		Bytes payload;
		WireError code;
		std::string fragment;
	};
	const std::vector<Case> cases = {
	        {{}, WireError::Truncated, "empty"},
	        {bytes({8}), WireError::BadValue, "unknown operation type 8"},
	        {bytes({0xff, 1, 'x'}), WireError::BadValue, "unknown operation type 255"},
	        {bytes({0}), WireError::Truncated, "CMD_REQUEST: name length missing"},
	        {bytes({0, 5, 'a', 'b'}), WireError::Truncated, "name of 5 octets runs past the end (2 left)"},
	        {bytes({7, 0}), WireError::BadValue, "EVENT: empty name"},
	        {bytes({3, 2, 'a', 0x7f}), WireError::BadValue, "not printable"},
	        {bytes({2, 0}), WireError::TrailingBytes, "CMD_UNKNOWN: 1 octets after"},
	        {bytes({5, 3, 1, 1, 's'}), WireError::TrailingBytes, "EVENT_CONFIRM"},
	        {bytes({3, 1, 'e', 3}), WireError::TrailingBytes, "EVENT_REGISTER"},
	        {bytes({1, 2}), WireError::BadValue, "CMD_RESPONSE: message octet 0: SECTION_END without"},
	        {bytes({0, 1, 'x', 1, 1, 's'}), WireError::Truncated, "ends inside section 's'"},
	};
	for (const Case &c : cases) {
		auto d = decode_packet(c.payload);
		ASSERT_FALSE(d.ok()) << c.fragment;
		EXPECT_EQ(d.error().code, c.code) << d.error().message;
		EXPECT_NE(d.error().message.find(c.fragment), std::string::npos) << d.error().message;
	}
}

TEST(ViciPacket, LimitsPacketSize)
{
	Packet p;
	p.op = Operation::CmdResponse;
	p.message.add_value("k", std::string(100, 'v'));
	auto payload = encode_packet_payload(p);
	ASSERT_TRUE(payload.ok());
	size_t size = payload.value().size();
	EXPECT_TRUE(decode_packet(payload.value(), size).ok());
	auto d = decode_packet(payload.value(), size - 1);
	ASSERT_FALSE(d.ok());
	EXPECT_EQ(d.error().code, WireError::BadLength);
	EXPECT_TRUE(encode_packet(p, size).ok());
	auto e = encode_packet(p, size - 1);
	ASSERT_FALSE(e.ok());
	EXPECT_EQ(e.error().code, WireError::BadLength);
}

TEST(ViciPacket, EncoderRejectsNamesAndMessagesWhereTheOperationHasNone)
{
	Packet unknown{Operation::CmdUnknown, "x", {}};
	EXPECT_EQ(encode_packet(unknown).error().code, WireError::BadValue);
	Packet confirm{Operation::EventConfirm, "", {}};
	confirm.message.add_value("k", "v");
	EXPECT_EQ(encode_packet(confirm).error().code, WireError::BadValue);
	Packet unnamed{Operation::CmdRequest, "", {}};
	EXPECT_EQ(encode_packet(unnamed).error().code, WireError::BadValue);
	Packet bad_op{static_cast<Operation>(9), "", {}};
	EXPECT_EQ(encode_packet(bad_op).error().code, WireError::BadValue);
}

TEST(ViciStream, ReassemblesPacketsFedOctetByOctet)
{
	Packet a{Operation::CmdRequest, "list-groups", {}};
	Packet b{Operation::CmdRequest, "rekey", {}};
	b.message.add_value("group", "blue");
	Bytes stream = cat({encode_packet(a).value(), encode_packet(b).value()});
	StreamReader r;
	std::vector<Packet> got;
	EXPECT_TRUE(r.idle());
	for (size_t i = 0; i < stream.size(); i++) {
		r.push(ByteView(&stream[i], 1));
		auto n = r.next();
		ASSERT_TRUE(n.ok());
		if (n.value())
			got.push_back(decode_packet(*n.value()).value());
		// a packet just completed, or more is needed
		EXPECT_EQ(r.idle(), i + 1 == stream.size() || i + 1 == encode_packet(a).value().size());
	}
	ASSERT_EQ(got.size(), 2u);
	EXPECT_EQ(got[0], a);
	EXPECT_EQ(got[1], b);
	auto none = r.next();
	ASSERT_TRUE(none.ok());
	EXPECT_FALSE(none.value());
}

TEST(ViciStream, TakesSeveralPacketsInOnePiece)
{
	Packet p{Operation::CmdRequest, "version", {}};
	Bytes one = encode_packet(p).value();
	Bytes three = cat({one, one, one});
	StreamReader r;
	r.push(three);
	for (int i = 0; i < 3; i++) {
		auto n = r.next();
		ASSERT_TRUE(n.ok());
		ASSERT_TRUE(n.value());
		EXPECT_EQ(decode_packet(*n.value()).value(), p);
	}
	EXPECT_FALSE(r.next().value());
	EXPECT_TRUE(r.idle());
}

TEST(ViciStream, RejectsALengthOverTheLimitForGood)
{
	StreamReader r(100);
	r.push(bytes({0, 0, 0, 100}));
	auto fits = r.next();
	ASSERT_TRUE(fits.ok());
	EXPECT_FALSE(fits.value()); // 100 octets are allowed, not there yet

	StreamReader big;
	big.push(bytes({0, 8, 0, 1, 0}));
	auto n = big.next();
	ASSERT_FALSE(n.ok());
	EXPECT_EQ(n.error().code, WireError::BadLength);
	EXPECT_NE(n.error().message.find("packet length 524289 exceeds the limit of 524288"), std::string::npos);
	// the stream stays broken whatever follows
	big.push(encode_packet(Packet{Operation::CmdRequest, "version", {}}).value());
	auto again = big.next();
	ASSERT_FALSE(again.ok());
	EXPECT_EQ(again.error().message, n.error().message);
}

TEST(ViciStream, AcceptsAnEmptyPacketAsAFrame)
{
	// framing allows a zero length; the packet layer rejects the payload
	StreamReader r;
	r.push(bytes({0, 0, 0, 0}));
	auto n = r.next();
	ASSERT_TRUE(n.ok());
	ASSERT_TRUE(n.value());
	EXPECT_TRUE(n.value()->empty());
	EXPECT_FALSE(decode_packet(*n.value()).ok());
}

TEST(ViciStream, SpecHexHeader)
{
	// a 4-octet big-endian length: 0x00000102 is 258 octets
	StreamReader r;
	r.push(hex("00000102"));
	r.push(Bytes(257, 0));
	EXPECT_FALSE(r.next().value());
	r.push(Bytes(1, 0));
	auto n = r.next();
	ASSERT_TRUE(n.value());
	EXPECT_EQ(n.value()->size(), 258u);
}

} // namespace
