// SPDX-License-Identifier: GPL-2.0-or-later
#include "control.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "control_test_util.h"

using namespace groupsec::gdoi;
using namespace groupsec::gdoi::test;
namespace vici = groupsec::vici;
using groupsec::vici::Operation;
using groupsec::vici::Packet;
using groupsec::vici::Section;

namespace {

class ControlTest : public ::testing::Test {
protected:
	// Sends one request over a fresh connection; the one reply.
	Packet ask(const std::string &command, const Section &message = {})
	{
		ControlConnection c(server);
		Bytes out;
		auto r = c.feed(request(command, message), out);
		EXPECT_TRUE(r.ok()) << r.error().message;
		auto replies = packets(out);
		EXPECT_EQ(replies.size(), 1u);
		return replies.empty() ? Packet{} : replies[0];
	}

	// The response message of a successful command.
	Section ok(const std::string &command, const Section &message = {})
	{
		Packet p = ask(command, message);
		EXPECT_EQ(p.op, Operation::CmdResponse);
		const std::string *success = p.message.value("success");
		EXPECT_TRUE(success && *success == "yes") << command << ": " << errmsg(p);
		return p.message;
	}

	// The errmsg of a failed command.
	std::string failed(const std::string &command, const Section &message = {})
	{
		Packet p = ask(command, message);
		EXPECT_EQ(p.op, Operation::CmdResponse);
		const std::string *success = p.message.value("success");
		EXPECT_TRUE(success && *success == "no") << command << " succeeded";
		return errmsg(p);
	}

	static std::string errmsg(const Packet &p)
	{
		const std::string *m = p.message.value("errmsg");
		return m ? *m : "";
	}

	static Section args(std::initializer_list<std::pair<const char *, const char *>> kv)
	{
		Section s;
		for (const auto &p : kv)
			s.add_value(p.first, p.second);
		return s;
	}

	static std::string value(const Section *s, const char *key)
	{
		if (!s)
			return "<no section>";
		const std::string *v = s->value(key);
		return v ? *v : "<absent>";
	}

	FakeTarget target;
	ControlServer server{target};
};

TEST_F(ControlTest, ListGroupsShowsEveryGroup)
{
	Section r = ok("list-groups");
	const Section *groups = r.section("groups");
	ASSERT_NE(groups, nullptr);
	ASSERT_EQ(groups->entries().size(), 2u);
	const Section *blue = groups->section("blue");
	EXPECT_EQ(value(blue, "name"), "blue");
	EXPECT_EQ(value(blue, "role"), "server");
	EXPECT_EQ(value(blue, "state"), "serving");
	EXPECT_EQ(value(blue, "group-id"), "@#0000012c");
	EXPECT_EQ(value(blue, "kek-message-id"), "7");
	EXPECT_EQ(value(blue, "members"), "2");
	EXPECT_EQ(value(blue, "sas"), "2");
	EXPECT_EQ(value(blue, "server"), "<absent>");
	const Section *counters = blue ? blue->section("counters") : nullptr;
	EXPECT_EQ(value(counters, "received"), "12");
	EXPECT_EQ(value(counters, "sent"), "10");
	EXPECT_EQ(value(counters, "dropped-auth"), "1");
	EXPECT_EQ(value(counters, "dropped-replay"), "0");
	EXPECT_EQ(value(counters, "registrations"), "2");
	EXPECT_EQ(value(counters, "rekeys"), "3");
	EXPECT_EQ(value(counters, "ike-deletes-sent"), "2");
	EXPECT_EQ(value(counters, "liveness"), "40");
	EXPECT_EQ(value(counters, "unsupported-critical"), "0");
	const Section *eviction = blue ? blue->section("eviction") : nullptr;
	EXPECT_EQ(value(eviction, "key-hierarchy"), "flat");
	EXPECT_EQ(value(eviction, "coalition-exposure"), "tek");
	EXPECT_EQ(value(eviction, "exposed-keks"), "9");
	EXPECT_EQ(value(eviction, "tree-epoch"), "<absent>");

	const Section *red = groups->section("red");
	EXPECT_EQ(value(red, "role"), "member");
	EXPECT_EQ(value(red, "state"), "registered");
	EXPECT_EQ(value(red, "group-id"), "198.51.100.1");
	EXPECT_EQ(value(red, "server"), "192.0.2.1[848]");
	EXPECT_EQ(value(red, "members"), "<absent>");
	// how rekeys are authenticated, and (key server) how many are evicted
	EXPECT_EQ(value(blue, "rekey-auth"), "signature");
	EXPECT_EQ(value(red, "rekey-auth"), "implicit");
	EXPECT_EQ(value(blue, "evicted"), "1");
	EXPECT_EQ(value(red, "evicted"), "<absent>");
	const vici::Entry *sids = red ? red->find("sender-ids") : nullptr;
	ASSERT_NE(sids, nullptr);
	EXPECT_EQ(sids->items, (std::vector<std::string>{"5", "6"}));
	EXPECT_EQ(blue ? blue->find("sender-ids") : nullptr, nullptr) << "none given: not shown";
	EXPECT_TRUE(target.actions().empty());
}

TEST_F(ControlTest, ListGroupsOfOneGroup)
{
	Section r = ok("list-groups", args({{"group", "red"}}));
	ASSERT_NE(r.section("groups"), nullptr);
	ASSERT_EQ(r.section("groups")->entries().size(), 1u);
	EXPECT_EQ(value(r.section("groups")->section("red"), "kek-message-id"), "4");
	EXPECT_EQ(failed("list-groups", args({{"group", "green"}})), "group 'green' not found");
}

TEST_F(ControlTest, ListMembersShowsIdentitiesAddressesAndAges)
{
	Section r = ok("list-members", args({{"group", "blue"}}));
	EXPECT_EQ(value(&r, "group"), "blue");
	const Section *members = r.section("members");
	ASSERT_NE(members, nullptr);
	ASSERT_EQ(members->entries().size(), 2u);
	const Section *gm1 = members->section("gm1.example.net");
	EXPECT_EQ(value(gm1, "id"), "gm1.example.net");
	EXPECT_EQ(value(gm1, "address"), "192.0.2.11[848]");
	EXPECT_EQ(value(gm1, "flat-id"), "1");
	EXPECT_EQ(value(gm1, "registered"), "120"); // now 1000 s, registered at 880 s
	const vici::Entry *sids = gm1 ? gm1->find("sender-ids") : nullptr;
	ASSERT_NE(sids, nullptr);
	EXPECT_EQ(sids->items, (std::vector<std::string>{"5", "6"}));
	EXPECT_EQ(value(gm1, "discovery"), "auto");
	EXPECT_EQ(gm1 ? gm1->find("peers") : nullptr, nullptr);
	const Section *gm2 = members->section("gm2@example.net");
	EXPECT_EQ(value(gm2, "registered"), "4");
	// the evicted identities, as readmit takes them
	const vici::Entry *evicted = r.find("evicted");
	ASSERT_NE(evicted, nullptr);
	EXPECT_EQ(evicted->kind, vici::EntryKind::List);
	EXPECT_EQ(evicted->items, (std::vector<std::string>{"gm3.example.net"}));

	EXPECT_EQ(failed("list-members", args({{"group", "red"}})),
	          "group 'red' is a member group: its key server lists the members");
	EXPECT_EQ(failed("list-members", args({{"group", "green"}})), "group 'green' not found");
}

TEST_F(ControlTest, ListMembersShowsTheMemberListsNamedAtRegistration)
{
	auto &members = target.groups_[0].members;
	ASSERT_EQ(members.size(), 2u);
	members[1].peers = {*Identity::parse("gm1.example.net"), *Identity::parse("C=CH, O=Example, CN=gm3")};
	Section r = ok("list-members", args({{"group", "blue"}}));
	const Section *gm2 = r.section("members") ? r.section("members")->section("gm2@example.net") : nullptr;
	ASSERT_NE(gm2, nullptr);
	EXPECT_EQ(value(gm2, "discovery"), "member-list");
	const vici::Entry *peers = gm2->find("peers");
	ASSERT_NE(peers, nullptr);
	EXPECT_EQ(peers->kind, vici::EntryKind::List);
	EXPECT_EQ(peers->items, (std::vector<std::string>{"gm1.example.net", "C=CH, O=Example, CN=gm3"}));
}

TEST_F(ControlTest, MemberIdentitiesInSwanctlNotation)
{
	// a DER DN built with OpenSSL, an IPv6 address, a binary FQDN
	X509_NAME *name = X509_NAME_new();
	X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, reinterpret_cast<const unsigned char *>("CH"), -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char *>("Example"), -1,
	                           -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char *>("gm3"), -1, -1,
	                           0);
	unsigned char *der = nullptr;
	int len = i2d_X509_NAME(name, &der);
	ASSERT_GT(len, 0);
	Bytes dn(der, der + len);
	OPENSSL_free(der);
	X509_NAME_free(name);

	auto &members = target.groups_[0].members;
	members.clear();
	MemberState m;
	m.id = identity(IdType::DerAsn1Dn, dn);
	members.push_back(m);
	m.id = identity(IdType::Ipv6Addr, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
	members.push_back(m);
	m.id = identity(IdType::Fqdn, {'g', 'm', 0x01});
	members.push_back(m);
	m.id = identity(IdType::DerAsn1Dn, {0x30, 0x03, 0x01}); // not a DN
	members.push_back(m);

	Section r = ok("list-members", args({{"group", "blue"}}));
	const Section *list = r.section("members");
	ASSERT_NE(list, nullptr);
	ASSERT_EQ(list->entries().size(), 4u);
	EXPECT_EQ(value(&list->entries()[0].section, "id"), "C=CH, O=Example, CN=gm3");
	EXPECT_EQ(list->entries()[0].name, "C=CH, O=Example, CN=gm3");
	EXPECT_EQ(value(&list->entries()[1].section, "id"), "2001:db8::1");
	EXPECT_EQ(value(&list->entries()[2].section, "id"), "fqdn:#676d01");
	EXPECT_EQ(value(&list->entries()[3].section, "id"), "asn1dn:#300301");
}

TEST_F(ControlTest, ShownIdentitiesParseBackToTheMember)
{
	// what list-members shows is what evict takes: Identity::parse() of
	// the text gives the member's identity again
	const std::vector<Identity> ids = {
	        identity(IdType::Fqdn, text_bytes("gm1.example.net")),
	        identity(IdType::Fqdn, text_bytes("gm1")),
	        identity(IdType::Fqdn, text_bytes("192.0.2.1")),
	        identity(IdType::Rfc822Addr, text_bytes("gm2@example.net")),
	        identity(IdType::Ipv4Addr, {192, 0, 2, 7}),
	        identity(IdType::Ipv6Addr, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}),
	        identity(IdType::KeyId, {0xde, 0xad, 0xbe, 0xef}),
	};
	auto &members = target.groups_[0].members;
	members.clear();
	for (const Identity &id : ids) {
		MemberState m;
		m.id = id;
		members.push_back(m);
	}
	Section r = ok("list-members", args({{"group", "blue"}}));
	const Section *list = r.section("members");
	ASSERT_NE(list, nullptr);
	ASSERT_EQ(list->entries().size(), ids.size());
	for (size_t i = 0; i < ids.size(); i++) {
		std::string text = value(&list->entries()[i].section, "id");
		EXPECT_EQ(text, ids[i].str());
		auto parsed = Identity::parse(text);
		ASSERT_TRUE(parsed.has_value()) << text;
		EXPECT_EQ(parsed->type, ids[i].type) << text;
		EXPECT_EQ(parsed->data, ids[i].data) << text;
	}
	EXPECT_EQ(value(&list->entries()[1].section, "id"), "@gm1");
	EXPECT_EQ(value(&list->entries()[2].section, "id"), "@192.0.2.1");
}

TEST_F(ControlTest, EntriesThatCannotBeNamedByTheirIdentityGetTheirIndex)
{
	auto &members = target.groups_[0].members;
	members.push_back(members[0]); // the same identity twice
	MemberState long_id;
	long_id.id = identity(IdType::Fqdn, text_bytes(std::string(300, 'a')));
	members.push_back(long_id);
	Section r = ok("list-members", args({{"group", "blue"}}));
	const Section *list = r.section("members");
	ASSERT_NE(list, nullptr);
	ASSERT_EQ(list->entries().size(), 4u);
	EXPECT_EQ(list->entries()[0].name, "gm1.example.net");
	EXPECT_EQ(list->entries()[2].name, "#2");
	EXPECT_EQ(value(&list->entries()[2].section, "id"), "gm1.example.net");
	EXPECT_EQ(list->entries()[3].name, "#3");
	EXPECT_EQ(value(&list->entries()[3].section, "id"), "@" + std::string(300, 'a'));
}

TEST_F(ControlTest, ListSasShowsSpisAlgorithmsAndExpiry)
{
	Section r = ok("list-sas", args({{"group", "blue"}}));
	EXPECT_EQ(value(&r, "group"), "blue");
	const Section *sas = r.section("sas");
	ASSERT_NE(sas, nullptr);
	ASSERT_EQ(sas->entries().size(), 2u);
	const Section *cur = sas->section("1a2b3c4d");
	EXPECT_EQ(value(cur, "spi"), "1a2b3c4d");
	EXPECT_EQ(value(cur, "protocol"), "esp");
	EXPECT_EQ(value(cur, "encr-alg"), "AES_GCM_16");
	EXPECT_EQ(value(cur, "encr-keysize"), "256");
	EXPECT_EQ(value(cur, "lifetime"), "3600");
	EXPECT_EQ(value(cur, "expires"), "3412");
	EXPECT_EQ(value(cur, "current"), "yes");
	const Section *old = sas->section("0000beef");
	EXPECT_EQ(value(old, "encr-alg"), "AES_CBC");
	EXPECT_EQ(value(old, "expires"), "12");
	EXPECT_EQ(value(old, "current"), "no");

	// an SA past its expiry shows 0, never a wrapped number
	target.groups_[0].sas[1].expires_ms = 1;
	r = ok("list-sas", args({{"group", "blue"}}));
	EXPECT_EQ(value(r.section("sas")->section("0000beef"), "expires"), "0");
	EXPECT_EQ(failed("list-sas", args({{"group", "green"}})), "group 'green' not found");
}

TEST_F(ControlTest, ListSasShowsWhatAMembersSaCarried)
{
	// where nothing counts (the key server's group), no counters
	Section r = ok("list-sas", args({{"group", "blue"}}));
	EXPECT_EQ(value(r.section("sas")->section("1a2b3c4d"), "packets-in"), "<absent>");
	target.traffic_[{"red", 0x1a2b3c4d}] = SaTraffic{{8400, 100}, {5880000000ULL, 70}};
	r = ok("list-sas", args({{"group", "red"}}));
	const Section *sa = r.section("sas")->section("1a2b3c4d");
	EXPECT_EQ(value(sa, "packets-in"), "100");
	EXPECT_EQ(value(sa, "bytes-in"), "8400");
	EXPECT_EQ(value(sa, "packets-out"), "70");
	EXPECT_EQ(value(sa, "bytes-out"), "5880000000") << "64-bit counters";
}

TEST_F(ControlTest, ActionsReachTheTarget)
{
	ok("rekey", args({{"group", "blue"}}));
	ok("reregister", args({{"group", "red"}}));
	ok("evict", args({{"group", "blue"}, {"member", "gm2@example.net"}}));
	ok("readmit", args({{"group", "blue"}, {"member", "gm3.example.net"}}));
	EXPECT_EQ(target.actions(), (std::vector<std::string>{"rekey blue", "reregister red",
	                                                      "evict blue gm2@example.net",
	                                                      "readmit blue gm3.example.net"}));
	EXPECT_EQ(target.groups_[0].members.size(), 1u);
	ASSERT_EQ(target.groups_[0].evicted.size(), 1u) << "gm2 in, gm3 out of the evicted list";
	ok("readmit", args({{"group", "blue"}, {"member", "gm2@example.net"}}));
	const vici::Entry *evicted = ok("list-members", args({{"group", "blue"}})).find("evicted");
	ASSERT_NE(evicted, nullptr);
	EXPECT_TRUE(evicted->items.empty()) << "an empty list, not an absent one";
}

TEST_F(ControlTest, ExcludeTakesAnOptionalMember)
{
	ok("exclude", args({{"group", "blue"}, {"member", "gm2@example.net"}}));
	ok("exclude", args({{"group", "blue"}}));
	EXPECT_EQ(target.actions(), (std::vector<std::string>{"exclude blue gm2@example.net", "exclude blue"}));
	EXPECT_EQ(failed("exclude", args({{"group", "red"}})), "group 'red' is a member group");
	EXPECT_FALSE(failed("exclude", args({{"member", "gm2@example.net"}})).empty()) << "group is required";
}

TEST_F(ControlTest, TargetErrorsBecomeErrorResponses)
{
	EXPECT_EQ(failed("rekey", args({{"group", "red"}})), "group 'red' is a member group");
	EXPECT_EQ(failed("reregister", args({{"group", "blue"}})), "group 'blue' is a key server group");
	EXPECT_EQ(failed("evict", args({{"group", "blue"}, {"member", "gm9.example.net"}})),
	          "'gm9.example.net' is not a member of group 'blue'");
	EXPECT_EQ(target.groups_[0].members.size(), 2u);
	EXPECT_EQ(failed("readmit", args({{"group", "blue"}, {"member", "gm1.example.net"}})),
	          "'gm1.example.net' is not evicted from group 'blue'");
	EXPECT_EQ(failed("readmit", args({{"group", "red"}, {"member", "gm3.example.net"}})),
	          "group 'red' is a member group");
	EXPECT_EQ(target.groups_[0].evicted.size(), 1u);
}

TEST_F(ControlTest, UnknownCommandGetsCmdUnknown)
{
	Packet p = ask("list-conns");
	EXPECT_EQ(p.op, Operation::CmdUnknown);
	EXPECT_TRUE(p.message.empty());
	// even with a message that does not decode
	ControlConnection c(server);
	Bytes out;
	Bytes req = {0, 0, 0, 8, 0, 5, 'f', 'l', 'u', 's', 'h', 0x02};
	ASSERT_TRUE(c.feed(req, out).ok());
	auto replies = packets(out);
	ASSERT_EQ(replies.size(), 1u);
	EXPECT_EQ(replies[0].op, Operation::CmdUnknown);
	EXPECT_TRUE(target.calls.empty());
}

TEST_F(ControlTest, MissingArgumentsAreRefusedBeforeTheTarget)
{
	struct Case {
		const char *command;
		Section message;
		const char *errmsg;
	};
	const std::vector<Case> cases = {
	        {"list-members", {}, "list-members: missing argument 'group'"},
	        {"list-sas", {}, "list-sas: missing argument 'group'"},
	        {"rekey", {}, "rekey: missing argument 'group'"},
	        {"reregister", {}, "reregister: missing argument 'group'"},
	        {"evict", args({{"group", "blue"}}), "evict: missing argument 'member'"},
	        {"evict", args({{"member", "gm1.example.net"}}), "evict: missing argument 'group'"},
	        {"readmit", args({{"group", "blue"}}), "readmit: missing argument 'member'"},
	        {"readmit", args({{"member", "gm3.example.net"}}), "readmit: missing argument 'group'"},
	        {"readmit", args({{"group", "blue"}, {"member", "gm3.example.net"}, {"force", "yes"}}),
	         "readmit: unknown argument 'force'"},
	        {"list-endpoints", {}, "list-endpoints: missing argument 'group'"},
	        {"remove-endpoint", args({{"group", "blue"}}), "remove-endpoint: missing argument 'gateway'"},
	        {"add-endpoint", args({{"group", "blue"}, {"gateway", "192.0.2.21"}}),
	         "add-endpoint: missing argument 'prefixes'"},
	        {"add-endpoint", args({{"gateway", "192.0.2.21"}}), "add-endpoint: missing argument 'group'"},
	};
	for (const Case &c : cases) {
		EXPECT_EQ(failed(c.command, c.message), c.errmsg);
		EXPECT_TRUE(target.calls.empty()) << c.command << " reached the target";
		target.calls.clear();
	}
}

TEST_F(ControlTest, MalformedArgumentsAreRefusedBeforeTheTarget)
{
	Section as_list;
	as_list.add_list("group", {"blue"});
	EXPECT_EQ(failed("rekey", as_list), "rekey: argument 'group' must be a value, not a list");
	Section as_section;
	as_section.add_section("group");
	EXPECT_EQ(failed("rekey", as_section), "rekey: argument 'group' must be a value, not a section");
	EXPECT_EQ(failed("rekey", args({{"group", ""}})), "rekey: argument 'group' is empty");
	EXPECT_EQ(failed("rekey", args({{"group", "blue"}, {"force", "yes"}})), "rekey: unknown argument 'force'");
	EXPECT_EQ(failed("version", args({{"verbose", "yes"}})), "version: unknown argument 'verbose'");
	EXPECT_EQ(failed("list-groups", args({{"group", ""}})), "list-groups: argument 'group' is empty");
	EXPECT_TRUE(target.calls.empty());
}

TEST_F(ControlTest, MalformedRequestMessageGetsAnErrorResponse)
{
	ControlConnection c(server);
	Bytes out;
	// "rekey" with a section that never closes
	Bytes req = {0, 0, 0, 10, 0, 5, 'r', 'e', 'k', 'e', 'y', 1, 1, 's'};
	ASSERT_TRUE(c.feed(req, out).ok());
	auto replies = packets(out);
	ASSERT_EQ(replies.size(), 1u);
	EXPECT_EQ(replies[0].op, Operation::CmdResponse);
	EXPECT_EQ(errmsg(replies[0]), "rekey: malformed request: vici packet CMD_REQUEST: message ends inside "
	                              "section 's'");
	EXPECT_TRUE(target.calls.empty());

	// a name that runs past the packet
	out.clear();
	ASSERT_TRUE(c.feed(Bytes{0, 0, 0, 3, 0, 9, 'r'}, out).ok());
	replies = packets(out);
	ASSERT_EQ(replies.size(), 1u);
	EXPECT_EQ(errmsg(replies[0]), "malformed request: the command name is truncated");
	// the connection still serves
	out.clear();
	ASSERT_TRUE(c.feed(request("version"), out).ok());
	replies = packets(out);
	ASSERT_EQ(replies.size(), 1u);
	EXPECT_EQ(*replies[0].message.value("daemon"), "gdoi");
	EXPECT_FALSE(replies[0].message.value("version")->empty());
}

TEST_F(ControlTest, EndpointsAreAddedListedReplacedAndRemoved)
{
	Section add = args({{"group", "blue"}, {"gateway", "192.0.2.21"}});
	add.add_list("prefixes", {"10.1.0.0/16", "2001:db8:1::/48"});
	ok("add-endpoint", add);
	ASSERT_EQ(target.endpoints_["blue"].size(), 1u);
	const TunnelEndpoint &stored = target.endpoints_["blue"][0];
	EXPECT_EQ(stored.gateway.ip, (Bytes{192, 0, 2, 21}));
	EXPECT_EQ(stored.gateway.port, 0);
	ASSERT_EQ(stored.prefixes.size(), 2u);
	EXPECT_EQ(stored.prefixes[0].ts_type, static_cast<uint8_t>(TsType::Ipv4AddrRange));
	EXPECT_EQ(stored.prefixes[0].ip_protocol, 0);
	EXPECT_EQ(stored.prefixes[0].start_port, 0);
	EXPECT_EQ(stored.prefixes[0].end_port, 0xffff);
	EXPECT_EQ(stored.prefixes[0].start_address, (Bytes{10, 1, 0, 0}));
	EXPECT_EQ(stored.prefixes[0].end_address, (Bytes{10, 1, 255, 255}));
	EXPECT_EQ(stored.prefixes[1].ts_type, static_cast<uint8_t>(TsType::Ipv6AddrRange));
	EXPECT_EQ(prefix_text(stored.prefixes[1]), "2001:db8:1::/48");
	EXPECT_EQ(target.actions(),
	          std::vector<std::string>{"add-endpoint blue 192.0.2.21 10.1.0.0/16 2001:db8:1::/48"});

	Section add6 = args({{"group", "blue"}, {"gateway", "2001:db8::22"}});
	add6.add_list("prefixes", {"10.2.0.0/16", "10.3.0.1-10.3.0.9"});
	ok("add-endpoint", add6);

	Section r = ok("list-endpoints", args({{"group", "blue"}}));
	EXPECT_EQ(value(&r, "group"), "blue");
	const Section *list = r.section("endpoints");
	ASSERT_NE(list, nullptr);
	ASSERT_EQ(list->entries().size(), 2u);
	EXPECT_EQ(value(list->section("192.0.2.21"), "gateway"), "192.0.2.21");
	ASSERT_NE(list->section("192.0.2.21")->list("prefixes"), nullptr);
	EXPECT_EQ(*list->section("192.0.2.21")->list("prefixes"),
	          (std::vector<std::string>{"10.1.0.0/16", "2001:db8:1::/48"}));
	EXPECT_EQ(*list->section("2001:db8::22")->list("prefixes"),
	          (std::vector<std::string>{"10.2.0.0/16", "10.3.0.1-10.3.0.9"}));

	ok("remove-endpoint", args({{"group", "blue"}, {"gateway", "192.0.2.21"}}));
	EXPECT_EQ(failed("remove-endpoint", args({{"group", "blue"}, {"gateway", "192.0.2.21"}})),
	          "group 'blue' has no endpoint 192.0.2.21");
	r = ok("list-endpoints", args({{"group", "blue"}}));
	EXPECT_EQ(r.section("endpoints")->entries().size(), 1u);
	EXPECT_EQ(failed("list-endpoints", args({{"group", "green"}})), "group 'green' not found");
}

TEST_F(ControlTest, BadEndpointsAreRefusedBeforeTheTarget)
{
	struct Case {
		const char *gateway;
		std::vector<std::string> prefixes;
		const char *errmsg;
	};
	const std::vector<Case> cases = {
	        {"gw1", {"10.1.0.0/16"}, "add-endpoint: gateway 'gw1' is not an IPv4 or IPv6 address"},
	        {"192.0.2.256", {"10.1.0.0/16"}, "add-endpoint: gateway '192.0.2.256' is not an IPv4 or IPv6 address"},
	        {"192.0.2.21", {}, "add-endpoint: argument 'prefixes' is empty: an endpoint protects at least one prefix"},
	        {"192.0.2.21", {"10.1.0.0"}, "add-endpoint: prefix '10.1.0.0' has no /length"},
	        {"192.0.2.21", {"10.1.0.0/33"}, "add-endpoint: prefix '10.1.0.0/33': length '33' is not a number from 0 to 32"},
	        {"192.0.2.21", {"10.1.0.0/-1"}, "add-endpoint: prefix '10.1.0.0/-1': length '-1' is not a number from 0 to 32"},
	        {"192.0.2.21", {"2001:db8::/129"}, "add-endpoint: prefix '2001:db8::/129': length '129' is not a number from 0 to 128"},
	        {"192.0.2.21", {"10.1.2.3/16"}, "add-endpoint: prefix '10.1.2.3/16' has host bits set (the network is 10.1.0.0/16)"},
	        {"192.0.2.21", {"net/8"}, "add-endpoint: prefix 'net/8': 'net' is not an IPv4 or IPv6 address"},
	        {"192.0.2.21", {"10.1.0.0/16", "10.1.0.0/16"}, "add-endpoint: prefix 10.1.0.0/16 given twice"},
	        {"192.0.2.21", {"10.1.0.0/16", "10.1.0.0-10.1.255.255"}, "add-endpoint: prefix 10.1.0.0/16 given twice"},
	        {"192.0.2.21", {"10.0.0.9-10.0.0.1"}, "add-endpoint: range '10.0.0.9-10.0.0.1' ends before it starts"},
	        {"192.0.2.21", {"10.0.0.1-2001:db8::1"}, "add-endpoint: range '10.0.0.1-2001:db8::1' mixes IPv4 and IPv6"},
	        {"192.0.2.21", {"10.0.0.1-x"}, "add-endpoint: range '10.0.0.1-x': 'x' is not an IPv4 or IPv6 address"},
	};
	for (const Case &c : cases) {
		Section add = args({{"group", "blue"}, {"gateway", c.gateway}});
		add.add_list("prefixes", c.prefixes);
		EXPECT_EQ(failed("add-endpoint", add), c.errmsg);
	}
	Section as_value = args({{"group", "blue"}, {"gateway", "192.0.2.21"}, {"prefixes", "10.1.0.0/16"}});
	EXPECT_EQ(failed("add-endpoint", as_value), "add-endpoint: argument 'prefixes' must be a list");
	EXPECT_EQ(failed("remove-endpoint", args({{"group", "blue"}, {"gateway", "::ffff:x"}})),
	          "remove-endpoint: gateway '::ffff:x' is not an IPv4 or IPv6 address");
	EXPECT_TRUE(target.calls.empty());
	EXPECT_TRUE(target.endpoints_.empty());

	// the target's own refusal comes back as it stands
	Section unknown = args({{"group", "green"}, {"gateway", "192.0.2.21"}});
	unknown.add_list("prefixes", {"0.0.0.0/0"});
	EXPECT_EQ(failed("add-endpoint", unknown), "group 'green' not found");
}

TEST_F(ControlTest, PrefixParsing)
{
	struct Case {
		const char *in;
		Bytes start, end;
		const char *text;
	};
	const std::vector<Case> cases = {
	        {"0.0.0.0/0", {0, 0, 0, 0}, {255, 255, 255, 255}, "0.0.0.0/0"},
	        {"192.0.2.1/32", {192, 0, 2, 1}, {192, 0, 2, 1}, "192.0.2.1/32"},
	        {"10.0.0.0/9", {10, 0, 0, 0}, {10, 127, 255, 255}, "10.0.0.0/9"},
	        {"10.0.0.0-10.0.255.255", {10, 0, 0, 0}, {10, 0, 255, 255}, "10.0.0.0/16"},
	        {"10.0.0.1-10.0.0.9", {10, 0, 0, 1}, {10, 0, 0, 9}, "10.0.0.1-10.0.0.9"},
	        {"10.0.0.0-10.0.0.2", {10, 0, 0, 0}, {10, 0, 0, 2}, "10.0.0.0-10.0.0.2"},
	        {"2001:db8::/127",
	         {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	         {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	         "2001:db8::/127"},
	};
	for (const Case &c : cases) {
		auto p = parse_prefix(c.in);
		ASSERT_TRUE(p.ok()) << c.in << ": " << p.error().message;
		EXPECT_EQ(p.value().start_address, c.start) << c.in;
		EXPECT_EQ(p.value().end_address, c.end) << c.in;
		EXPECT_EQ(prefix_text(p.value()), c.text);
	}
	for (const char *bad : {"2001:db8::1/127", "10.0.0.0/08x", "10.0.0.0/", "/8", "10.0.0.0/8/8", "-", "10.0.0.1-"})
		EXPECT_FALSE(parse_prefix(bad).ok()) << bad;
	EXPECT_FALSE(parse_prefix(std::string("10.0.0.0\0/8", 11)).ok());
	TrafficSelector odd;
	odd.start_address = {10, 0, 0, 0};
	odd.end_address = Bytes(16, 0);
	EXPECT_EQ(prefix_text(odd), "?");
}

TEST_F(ControlTest, EventRegistrationIsRefused)
{
	ControlConnection c(server);
	Bytes out;
	Bytes reg = vici::encode_packet(Packet{Operation::EventRegister, "list-sa", {}}).value();
	Bytes unreg = vici::encode_packet(Packet{Operation::EventUnregister, "list-sa", {}}).value();
	ASSERT_TRUE(c.feed(reg, out).ok());
	ASSERT_TRUE(c.feed(unreg, out).ok());
	auto replies = packets(out);
	ASSERT_EQ(replies.size(), 2u);
	EXPECT_EQ(replies[0].op, Operation::EventUnknown);
	EXPECT_EQ(replies[1].op, Operation::EventUnknown);
}

TEST_F(ControlTest, ServerPacketsFromAClientCloseTheConnection)
{
	for (Operation op : {Operation::CmdResponse, Operation::CmdUnknown, Operation::EventConfirm,
	                     Operation::EventUnknown, Operation::Event}) {
		ControlConnection c(server);
		Packet p{op, vici::operation_has_name(op) ? "x" : "", {}};
		Bytes out;
		// a good request first: its answer is still given
		Bytes in = request("version");
		Bytes bad = vici::encode_packet(p).value();
		in.insert(in.end(), bad.begin(), bad.end());
		auto r = c.feed(in, out);
		ASSERT_FALSE(r.ok()) << vici::operation_name(op);
		EXPECT_NE(r.error().message.find(std::string("a client may not send ") + vici::operation_name(op)),
		          std::string::npos)
		        << r.error().message;
		EXPECT_EQ(packets(out).size(), 1u);
		// the connection stays failed
		Bytes more;
		auto again = c.feed(request("version"), more);
		EXPECT_FALSE(again.ok());
		EXPECT_TRUE(more.empty());
	}
}

TEST_F(ControlTest, UnknownOperationAndEmptyPacketCloseTheConnection)
{
	{
		ControlConnection c(server);
		Bytes out;
		auto r = c.feed(Bytes{0, 0, 0, 1, 9}, out);
		ASSERT_FALSE(r.ok());
		EXPECT_EQ(r.error().message, "control socket: unknown operation type 9");
		EXPECT_TRUE(out.empty());
	}
	{
		ControlConnection c(server);
		Bytes out;
		auto r = c.feed(Bytes{0, 0, 0, 0}, out);
		ASSERT_FALSE(r.ok());
		EXPECT_EQ(r.error().code, WireError::Truncated);
	}
}

TEST_F(ControlTest, OversizedLengthClosesTheConnection)
{
	ControlConnection c(server);
	Bytes out;
	auto r = c.feed(Bytes{0, 0x10, 0, 0}, out);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code, WireError::BadLength);
	EXPECT_TRUE(out.empty());
	EXPECT_TRUE(target.calls.empty());
}

TEST_F(ControlTest, ConnectionAnswersInOrderWhateverThePieces)
{
	Bytes in = request("list-groups");
	Bytes second = request("rekey", args({{"group", "blue"}}));
	Bytes third = request("nope");
	in.insert(in.end(), second.begin(), second.end());
	in.insert(in.end(), third.begin(), third.end());
	ControlConnection c(server);
	Bytes out;
	for (size_t i = 0; i < in.size(); i++) {
		ASSERT_TRUE(c.feed(ByteView(&in[i], 1), out).ok());
		bool boundary = i + 1 == in.size() || i + 1 == in.size() - third.size() ||
		                i + 1 == in.size() - third.size() - second.size();
		EXPECT_EQ(c.idle(), boundary) << i;
	}
	EXPECT_EQ(c.packets(), 3u);
	auto replies = packets(out);
	ASSERT_EQ(replies.size(), 3u);
	EXPECT_NE(replies[0].message.section("groups"), nullptr);
	EXPECT_EQ(*replies[1].message.value("success"), "yes");
	EXPECT_EQ(replies[2].op, Operation::CmdUnknown);
	EXPECT_EQ(target.actions(), std::vector<std::string>{"rekey blue"});
}

TEST_F(ControlTest, ResponseOverThePacketLimitBecomesAnError)
{
	ControlServer small(target, 300);
	auto &members = target.groups_[0].members;
	for (int i = 0; i < 20; i++) {
		MemberState m;
		m.id = identity(IdType::Fqdn, text_bytes("gm" + std::to_string(i + 10) + ".example.net"));
		m.address = address({192, 0, 2, static_cast<uint8_t>(i + 20)}, 848);
		members.push_back(m);
	}
	ControlConnection c(small);
	Bytes out;
	Section req = args({{"group", "blue"}});
	ASSERT_TRUE(c.feed(request("list-members", req), out).ok());
	auto replies = packets(out);
	ASSERT_EQ(replies.size(), 1u);
	EXPECT_EQ(*replies[0].message.value("success"), "no");
	EXPECT_NE(errmsg(replies[0]).find("list-members: the response of "), std::string::npos) << errmsg(replies[0]);
	EXPECT_NE(errmsg(replies[0]).find("exceeds the packet limit of 300"), std::string::npos);
	// a small answer still goes out
	out.clear();
	ASSERT_TRUE(c.feed(request("rekey", req), out).ok());
	EXPECT_EQ(*packets(out)[0].message.value("success"), "yes");
}

TEST_F(ControlTest, DispatchWithoutTheWire)
{
	auto r = server.dispatch("list-sas", args({{"group", "red"}}));
	ASSERT_TRUE(r.has_value());
	EXPECT_EQ(r->section("sas")->entries().size(), 1u);
	EXPECT_FALSE(server.dispatch("list-sa", {}).has_value());
}

} // namespace

namespace {

TEST_F(ControlTest, EventsReachOnlyTheirSubscribersWithTheirFields)
{
	ControlConnection listener(server), other(server);
	Bytes out, none;
	for (const char *e : event::kAll)
		ASSERT_TRUE(listener.feed(vici::encode_packet(Packet{Operation::EventRegister, e, {}}).value(), out).ok());
	auto confirms = packets(out);
	ASSERT_EQ(confirms.size(), std::size(event::kAll));
	for (const Packet &p : confirms)
		EXPECT_EQ(p.op, Operation::EventConfirm);

	MemberState m;
	m.id = *Identity::parse("gm2@example.net");
	m.address = address({198, 51, 100, 2}, 4500);
	m.flat_id = 5;
	m.sender_ids = {3, 4};
	m.peers = {*Identity::parse("gm1.example.net"), *Identity::parse("192.0.2.13")};
	server.member_registered("blue", m, true, 2);
	server.member_left("blue", m.id, "left", 1);
	server.member_evicted("blue", m.id, 0);
	server.rekey("red", false, 12, true);
	server.sa_installed("red", 0x1a2b3c4d, false, 20, 3600);
	server.sa_removed("red", 0x0000abcd);
	TrafficSelector ts = parse_prefix("10.1.0.0/16").value();
	server.endpoint_changed("red", Bytes{192, 0, 2, 21}, "replaced", {ts});

	out.clear();
	listener.take(out);
	other.take(none);
	EXPECT_TRUE(none.empty());
	auto events = packets(out);
	ASSERT_EQ(events.size(), 7u);
	auto fields = [](const Packet &p) {
		std::string s = p.name;
		for (const vici::Entry &e : p.message.entries()) {
			s += " " + e.name + "=";
			if (e.kind == vici::EntryKind::List)
				for (size_t i = 0; i < e.items.size(); i++)
					s += (i ? "," : "") + e.items[i];
			else
				s += e.value;
		}
		return s;
	};
	for (const Packet &p : events)
		EXPECT_EQ(p.op, Operation::Event);
	EXPECT_EQ(fields(events[0]), "member-registered group=blue member=gm2@example.net address=198.51.100.2 "
	                             "port=4500 member-id=5 again=yes members=2 sender-ids=3,4 "
	                             "discovery=member-list peers=gm1.example.net,192.0.2.13");
	EXPECT_EQ(fields(events[1]), "member-left group=blue member=gm2@example.net reason=left members=1");
	EXPECT_EQ(fields(events[2]), "member-evicted group=blue member=gm2@example.net members=0");
	EXPECT_EQ(fields(events[3]), "rekey group=red role=member message-id=12");
	EXPECT_EQ(fields(events[4]), "sa-installed group=red spi=1a2b3c4d outbound=no encr-alg=AES_GCM_16 lifetime=3600");
	EXPECT_EQ(fields(events[5]), "sa-removed group=red spi=0000abcd");
	EXPECT_EQ(fields(events[6]), "endpoint-changed group=red gateway=192.0.2.21 change=replaced prefixes=10.1.0.0/16");

	// unsubscribed: no more of that one
	out.clear();
	ASSERT_TRUE(listener.feed(vici::encode_packet(Packet{Operation::EventUnregister, "rekey", {}}).value(), out).ok());
	server.rekey("red", false, 13, false);
	server.sa_removed("red", 1);
	listener.take(out);
	events = packets(out);
	ASSERT_EQ(events.size(), 2u);
	EXPECT_EQ(events[0].op, Operation::EventConfirm);
	EXPECT_EQ(events[1].name, "sa-removed");
}

TEST_F(ControlTest, AClientThatDoesNotReadIsDroppedAtItsBound)
{
	ControlServer small(target, vici::kMaxPacket, 4096);
	ControlConnection stuck(small), live(small);
	Bytes ignored;
	ASSERT_TRUE(stuck.feed(vici::encode_packet(Packet{Operation::EventRegister, "sa-removed", {}}).value(), ignored).ok());
	ASSERT_TRUE(live.feed(vici::encode_packet(Packet{Operation::EventRegister, "sa-removed", {}}).value(), ignored).ok());
	size_t received = 0;
	for (uint32_t spi = 1; spi <= 500; spi++) {
		small.sa_removed("red", spi);
		Bytes out;
		live.take(out);
		received += packets(out).size();
	}
	EXPECT_EQ(received, 500u);
	EXPECT_TRUE(stuck.closing());
	EXPECT_FALSE(live.closing());
	EXPECT_EQ(small.server().overflows(), 1u);
}

} // namespace

// --- shortcut SAs (docs/control-socket.md, list-shortcuts ...) ---

namespace {

namespace sc = groupsec::gdoi::shortcut;

class ShortcutTarget : public FakeTarget {
public:
	std::vector<sc::ShortcutGroupView> shortcuts() const override { return views; }
	Result<uint32_t> request_shortcut(const std::string &group, const std::string &a,
	                                  const std::string &b) override
	{
		calls.push_back("request " + group + " " + a + " " + b);
		if (b == "gm9.example.net")
			return make_error(WireError::Missing, "gm9.example.net is not an outside member");
		return 7u;
	}
	Result<Done> remove_shortcut(const std::string &group, uint32_t id) override
	{
		calls.push_back("remove " + group + " " + std::to_string(id));
		return Done{};
	}
	std::vector<sc::ShortcutGroupView> views;
	std::vector<std::string> calls;
};

class ShortcutControlTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		sc::ShortcutGroupView m;
		m.group = "blue";
		m.manager = true;
		sc::ShortcutInfo x;
		x.id = 7;
		x.a = "gm1.example.net";
		x.b = "gm2.example.net";
		x.inside_a = sc::parse_prefix("10.1.0.0/24").value();
		x.inside_b = sc::parse_prefix("10.2.0.0/24").value();
		x.state = sc::ShortcutState::Up;
		x.spi_ab = 0x1000a001;
		x.spi_ba = 0x1000b002;
		x.inbound_a = x.inbound_b = x.outbound_a = x.outbound_b = true;
		x.created_ms = 990000;
		x.up_ms = 995000;
		m.shortcuts.push_back(x);
		m.manager_counters.offers_sent = 2;
		m.manager_counters.refused_unknown_member = 1;
		target.views.push_back(m);
		sc::ShortcutGroupView g;
		g.group = "red";
		sc::MemberShortcut ms;
		ms.id = 7;
		ms.peer_outside.ip = {198, 51, 100, 2};
		ms.local_inside = x.inside_a;
		ms.peer_inside = x.inside_b;
		ms.spi_in = 0x1000b002;
		ms.spi_out = 0x1000a001;
		ms.outbound = true;
		g.member_shortcuts.push_back(ms);
		target.views.push_back(g);
	}
	Section run(const std::string &cmd, std::initializer_list<std::pair<const char *, const char *>> kv)
	{
		Section s;
		for (const auto &p : kv)
			s.add_value(p.first, p.second);
		auto r = server.dispatch(cmd, s);
		EXPECT_TRUE(r.has_value()) << cmd;
		return r ? *r : Section{};
	}
	ShortcutTarget target;
	ControlServer server{target};
};

} // namespace

TEST_F(ShortcutControlTest, ListShortcutsShowsBothRoles)
{
	Section r = run("list-shortcuts", {});
	ASSERT_NE(r.value("success"), nullptr);
	EXPECT_EQ(*r.value("success"), "yes");
	const Section *blue = r.section("groups")->section("blue");
	ASSERT_TRUE(blue);
	EXPECT_EQ(*blue->value("role"), "manager");
	const Section *x = blue->section("shortcuts")->section("7");
	ASSERT_TRUE(x);
	EXPECT_EQ(*x->value("a"), "gm1.example.net");
	EXPECT_EQ(*x->value("inside-b"), "10.2.0.0/24");
	EXPECT_EQ(*x->value("state"), "up");
	EXPECT_EQ(*x->value("spi-ab"), "1000a001");
	EXPECT_EQ(*x->value("up"), "5");
	EXPECT_EQ(*blue->section("counters")->value("offers-sent"), "2");
	EXPECT_EQ(*blue->section("counters")->value("refused-unknown-member"), "1");
	const Section *red = r.section("groups")->section("red");
	ASSERT_TRUE(red);
	EXPECT_EQ(*red->value("role"), "member");
	const Section *y = red->section("shortcuts")->section("7");
	ASSERT_TRUE(y);
	EXPECT_EQ(*y->value("peer"), "198.51.100.2");
	EXPECT_EQ(*y->value("spi-in"), "1000b002");
	EXPECT_EQ(*y->value("outbound"), "yes");

	Section one = run("list-shortcuts", {{"group", "red"}});
	EXPECT_EQ(one.section("groups")->section("blue"), nullptr);
	Section none = run("list-shortcuts", {{"group", "green"}});
	EXPECT_EQ(*none.value("errmsg"), "group 'green' has no shortcuts configured");
}

TEST_F(ShortcutControlTest, RequestAndRemoveReachTheTarget)
{
	Section r = run("request-shortcut", {{"group", "blue"}, {"a", "gm1.example.net"}, {"b", "gm2.example.net"}});
	EXPECT_EQ(*r.value("success"), "yes");
	EXPECT_EQ(*r.value("id"), "7");
	Section refused = run("request-shortcut", {{"group", "blue"}, {"a", "gm1.example.net"}, {"b", "gm9.example.net"}});
	EXPECT_EQ(*refused.value("success"), "no");
	EXPECT_EQ(*refused.value("errmsg"), "gm9.example.net is not an outside member");
	Section missing = run("request-shortcut", {{"group", "blue"}, {"a", "gm1.example.net"}});
	EXPECT_EQ(*missing.value("errmsg"), "request-shortcut: missing argument 'b'");
	EXPECT_EQ(*run("remove-shortcut", {{"group", "blue"}, {"id", "7"}}).value("success"), "yes");
	for (const char *bad : {"0", "x7", "4294967296", ""})
		EXPECT_EQ(*run("remove-shortcut", {{"group", "blue"}, {"id", bad}}).value("success"), "no") << bad;
	EXPECT_EQ(target.calls, (std::vector<std::string>{"request blue gm1.example.net gm2.example.net",
	                                                  "request blue gm1.example.net gm9.example.net",
	                                                  "remove blue 7"}));
}

TEST_F(ShortcutControlTest, UpAndDownEvents)
{
	ControlConnection listener(server);
	Bytes out;
	for (const char *e : {event::kShortcutUp, event::kShortcutDown})
		ASSERT_TRUE(listener.feed(vici::encode_packet(Packet{Operation::EventRegister, e, {}}).value(), out).ok());
	out.clear();
	const sc::ShortcutInfo &x = target.views[0].shortcuts[0];
	server.shortcut_changed("blue", x, true, "");
	server.shortcut_changed("blue", x, false, "removed by the operator");
	listener.take(out);
	auto events = packets(out);
	ASSERT_EQ(events.size(), 2u);
	EXPECT_EQ(events[0].name, "shortcut-up");
	EXPECT_EQ(*events[0].message.value("group"), "blue");
	EXPECT_EQ(*events[0].message.value("id"), "7");
	EXPECT_EQ(events[0].message.value("reason"), nullptr);
	EXPECT_EQ(events[1].name, "shortcut-down");
	EXPECT_EQ(*events[1].message.value("reason"), "removed by the operator");
}
