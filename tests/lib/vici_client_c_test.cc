// SPDX-License-Identifier: GPL-2.0-or-later
// The C interface of the sans-IO VICI client, driven as the FRR glue drives
// it: connect, write what it asks, feed what the server sends.
#include "groupsec/vici/client_c.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "groupsec/vici/vici_wire.h"

using groupsec::Bytes;
using groupsec::ByteView;
using namespace groupsec::vici;

namespace {

struct Seen {
	std::vector<std::string> events; // "name: formatted message"
	std::vector<std::string> group_of_event;
	std::vector<std::pair<std::string, bool>> subscribed;
	std::vector<std::string> replies; // "command: version" or "command: (none)"
};

void on_event(void *arg, const char *name, const gs_vici_msg *msg)
{
	auto *s = static_cast<Seen *>(arg);
	char buf[256];
	s->events.push_back(std::string(name) + ": " + gs_vici_msg_format(msg, buf, sizeof(buf)));
	const char *g = gs_vici_msg_get(msg, "group");
	s->group_of_event.push_back(g ? g : "(none)");
}

void on_subscribed(void *arg, const char *name, bool confirmed)
{
	static_cast<Seen *>(arg)->subscribed.emplace_back(name, confirmed);
}

void on_reply(void *arg, const char *command, const gs_vici_msg *reply)
{
	auto *s = static_cast<Seen *>(arg);
	const char *v = reply ? gs_vici_msg_get(reply, "version") : nullptr;
	s->replies.push_back(std::string(command) + ": " + (reply ? (v ? v : "(no version)") : "(none)"));
}

const gs_vici_client_ops kOps = {on_event, on_subscribed};

struct ClientPtr {
	explicit ClientPtr(Seen *s) : c(gs_vici_client_new(&kOps, s)) {}
	~ClientPtr() { gs_vici_client_free(c); }
	gs_vici_client *c;
};

// Everything the client wants written, decoded as the server would.
std::vector<Packet> drain(gs_vici_client *c)
{
	const uint8_t *data;
	size_t n = gs_vici_client_pending(c, &data);
	StreamReader r;
	r.push(ByteView(data, n));
	gs_vici_client_written(c, n);
	std::vector<Packet> out;
	for (;;) {
		auto next = r.next();
		if (!next.ok() || !next.value())
			break;
		auto p = decode_packet(*next.value());
		EXPECT_TRUE(p.ok());
		if (p.ok())
			out.push_back(p.value());
	}
	EXPECT_TRUE(r.idle());
	return out;
}

Bytes frame(Operation op, const std::string &name = "", const Section &msg = Section())
{
	Packet p;
	p.op = op;
	p.name = name;
	p.message = msg;
	auto b = encode_packet(p);
	EXPECT_TRUE(b.ok());
	return b.ok() ? b.value() : Bytes();
}

int feed(gs_vici_client *c, const Bytes &b, std::string *err = nullptr)
{
	char buf[160] = "";
	int r = gs_vici_client_feed(c, b.data(), b.size(), buf, sizeof(buf));
	if (err)
		*err = buf;
	return r;
}

} // namespace

TEST(ViciClientC, SubscriptionsGoOutOnEveryConnection)
{
	Seen seen;
	ClientPtr cp(&seen);
	ASSERT_EQ(gs_vici_client_subscribe(cp.c, "member-registered"), 0);
	ASSERT_EQ(gs_vici_client_subscribe(cp.c, "rekey"), 0);
	EXPECT_EQ(gs_vici_client_subscribe(cp.c, ""), -1);

	for (int conn = 0; conn < 2; conn++) {
		gs_vici_client_connected(cp.c);
		auto sent = drain(cp.c);
		ASSERT_EQ(sent.size(), 2u) << "connection " << conn;
		EXPECT_EQ(sent[0].op, Operation::EventRegister);
		EXPECT_EQ(sent[0].name, "member-registered");
		EXPECT_EQ(sent[1].name, "rekey");
		ASSERT_EQ(feed(cp.c, frame(Operation::EventConfirm)), 0);
		ASSERT_EQ(feed(cp.c, frame(Operation::EventUnknown)), 0);
		gs_vici_client_disconnected(cp.c);
	}
	using P = std::pair<std::string, bool>;
	EXPECT_EQ(seen.subscribed, (std::vector<P>{{"member-registered", true}, {"rekey", false},
						  {"member-registered", true}, {"rekey", false}}));
}

TEST(ViciClientC, EventsAreLentWithTheirFields)
{
	Seen seen;
	ClientPtr cp(&seen);
	gs_vici_client_subscribe(cp.c, "member-evicted");
	gs_vici_client_connected(cp.c);
	drain(cp.c);

	Section ev;
	ev.add_value("group", "blue");
	ev.add_section("member").add_value("id", "gm1.example.net");
	ev.add_list("addresses", {"192.0.2.11", "2001:db8::11"});
	Bytes b = frame(Operation::EventConfirm);
	Bytes e = frame(Operation::Event, "member-evicted", ev);
	b.insert(b.end(), e.begin(), e.end());
	// in two pieces, split inside the event
	Bytes first(b.begin(), b.begin() + 9), rest(b.begin() + 9, b.end());
	ASSERT_EQ(feed(cp.c, first), 0);
	EXPECT_TRUE(seen.events.empty());
	ASSERT_EQ(feed(cp.c, rest), 0);
	ASSERT_EQ(seen.events.size(), 1u);
	EXPECT_EQ(seen.events[0], "member-evicted: group=blue member={ id=gm1.example.net } "
				  "addresses=[192.0.2.11, 2001:db8::11]");
	EXPECT_EQ(seen.group_of_event[0], "blue");
}

TEST(ViciClientC, MessagePathsReachIntoSections)
{
	Section s;
	s.add_value("group", "blue");
	s.add_section("member").add_value("id", "gm1");
	s.add_list("list", {"a"});
	// a message is only lent inside a callback: read it in one
	static const gs_vici_msg *lent;
	static std::vector<std::string> got;
	got.clear();
	gs_vici_client_ops ops = {
		[](void *, const char *, const gs_vici_msg *m) {
			lent = m;
			for (const char *p : {"group", "member.id", "member", "list", "member.nope",
					      "nope.id", "", "member."}) {
				const char *v = gs_vici_msg_get(m, p);
				got.push_back(v ? v : "NULL");
			}
		},
		nullptr};
	gs_vici_client *c = gs_vici_client_new(&ops, nullptr);
	ASSERT_TRUE(c);
	gs_vici_client_subscribe(c, "ev");
	gs_vici_client_connected(c);
	drain(c);
	ASSERT_EQ(feed(c, frame(Operation::Event, "ev", s)), 0);
	gs_vici_client_free(c);
	EXPECT_TRUE(lent);
	EXPECT_EQ(got, (std::vector<std::string>{"blue", "gm1", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"}));
	EXPECT_EQ(gs_vici_msg_get(nullptr, "group"), nullptr);
}

TEST(ViciClientC, SubSectionsAreListedInOrder)
{
	Section s;
	s.add_value("success", "yes");
	auto &members = s.add_section("members");
	members.add_section("gm1").add_value("address", "192.0.2.11[848]");
	members.add_value("skipped", "x");
	members.add_section("gm2").add_value("address", "192.0.2.12[848]");
	s.add_list("evicted", {"gm3"});
	static std::vector<std::string> got;
	static size_t top, under_value, missing;
	got.clear();
	gs_vici_client_ops ops = {
		[](void *, const char *, const gs_vici_msg *m) {
			auto fn = [](void *, const char *name, const gs_vici_msg *sub) {
				const char *a = gs_vici_msg_get(sub, "address");
				got.push_back(std::string(name) + "=" + (a ? a : "NULL"));
			};
			gs_vici_msg_sections(m, "members", fn, nullptr);
			top = gs_vici_msg_sections(m, "", nullptr, nullptr);
			under_value = gs_vici_msg_sections(m, "success", fn, nullptr);
			missing = gs_vici_msg_sections(m, "members.gm9", fn, nullptr);
		},
		nullptr};
	gs_vici_client *c = gs_vici_client_new(&ops, nullptr);
	ASSERT_TRUE(c);
	gs_vici_client_subscribe(c, "ev");
	gs_vici_client_connected(c);
	drain(c);
	ASSERT_EQ(feed(c, frame(Operation::Event, "ev", s)), 0);
	gs_vici_client_free(c);
	EXPECT_EQ(got, (std::vector<std::string>{"gm1=192.0.2.11[848]", "gm2=192.0.2.12[848]"}));
	EXPECT_EQ(top, 1u);
	EXPECT_EQ(under_value, 0u);
	EXPECT_EQ(missing, 0u);
}

TEST(ViciClientC, RepliesComeToTheirCallbackAndLostOnesAsNull)
{
	Seen seen;
	ClientPtr cp(&seen);
	const char *args[] = {"group", "blue", nullptr};
	// not connected: refused, no callback
	EXPECT_EQ(gs_vici_client_request(cp.c, "version", nullptr, on_reply, &seen), -1);
	gs_vici_client_connected(cp.c);
	ASSERT_EQ(gs_vici_client_request(cp.c, "version", nullptr, on_reply, &seen), 0);
	ASSERT_EQ(gs_vici_client_request(cp.c, "list-members", args, on_reply, &seen), 0);
	ASSERT_EQ(gs_vici_client_request(cp.c, "nope", nullptr, on_reply, &seen), 0);
	ASSERT_EQ(gs_vici_client_request(cp.c, "rekey", args, on_reply, &seen), 0);
	const char *odd[] = {"group", nullptr};
	EXPECT_EQ(gs_vici_client_request(cp.c, "rekey", odd, on_reply, &seen), -1);
	auto sent = drain(cp.c);
	ASSERT_EQ(sent.size(), 4u);
	EXPECT_EQ(sent[1].name, "list-members");
	ASSERT_TRUE(sent[1].message.value("group"));
	EXPECT_EQ(*sent[1].message.value("group"), "blue");

	Section version;
	version.add_value("daemon", "gdoi").add_value("version", "1.2.3");
	ASSERT_EQ(feed(cp.c, frame(Operation::CmdResponse, "", version)), 0);
	ASSERT_EQ(feed(cp.c, frame(Operation::CmdResponse, "", Section())), 0);
	ASSERT_EQ(feed(cp.c, frame(Operation::CmdUnknown)), 0);
	// the fourth is outstanding when the link goes
	gs_vici_client_disconnected(cp.c);
	EXPECT_EQ(seen.replies, (std::vector<std::string>{"version: 1.2.3", "list-members: (no version)",
							  "nope: (none)", "rekey: (none)"}));
}

TEST(ViciClientC, KeysWithBracketsInARowMakeOneList)
{
	Seen seen;
	ClientPtr cp(&seen);
	gs_vici_client_connected(cp.c);
	const char *args[] = {"group", "A", "prefixes[]", "10.1.0.0/24", "prefixes[]", "10.2.0.0/24",
			      "gateway", "192.0.2.12", nullptr};
	ASSERT_EQ(gs_vici_client_request(cp.c, "add-endpoint", args, nullptr, nullptr), 0);
	auto sent = drain(cp.c);
	ASSERT_EQ(sent.size(), 1u);
	const auto *list = sent[0].message.list("prefixes");
	ASSERT_TRUE(list);
	EXPECT_EQ(*list, (std::vector<std::string>{"10.1.0.0/24", "10.2.0.0/24"}));
	ASSERT_TRUE(sent[0].message.value("gateway"));
	EXPECT_EQ(*sent[0].message.value("gateway"), "192.0.2.12");
	EXPECT_EQ(sent[0].message.value("prefixes"), nullptr);
}

TEST(ViciClientC, KeysWithDotsAreValuesInSections)
{
	Seen seen;
	ClientPtr cp(&seen);
	gs_vici_client_connected(cp.c);
	const char *args[] = {"source", "bgpd", "groups.blue.role", "server", "groups.blue.tek-1.local_ts",
			      "10.0.0.0/8", "groups.blue.tek-1.remote_ts", "10.0.0.0/8", "groups.red.role", "member",
			      nullptr};
	ASSERT_EQ(gs_vici_client_request(cp.c, "load-config", args, nullptr, nullptr), 0);
	auto sent = drain(cp.c);
	ASSERT_EQ(sent.size(), 1u);
	const auto &m = sent[0].message;
	ASSERT_TRUE(m.value("source"));
	const auto *groups = m.section("groups");
	ASSERT_TRUE(groups);
	ASSERT_EQ(groups->entries().size(), 2u) << "blue, red";
	const auto *blue = groups->section("blue");
	ASSERT_TRUE(blue && blue->value("role"));
	EXPECT_EQ(*blue->value("role"), "server");
	const auto *tek = blue->section("tek-1");
	ASSERT_TRUE(tek && tek->value("remote_ts"));
	EXPECT_EQ(tek->entries().size(), 2u);
	EXPECT_EQ(*tek->value("remote_ts"), "10.0.0.0/8");
	ASSERT_TRUE(groups->section("red"));
	// a value and a section of one name cannot both be: nothing is sent
	const char *clash[] = {"groups.blue", "x", "groups.blue.role", "server", nullptr};
	EXPECT_EQ(gs_vici_client_request(cp.c, "load-config", clash, nullptr, nullptr), -1);
	EXPECT_TRUE(drain(cp.c).empty());
}

TEST(ViciClientC, ABrokenStreamIsAnErrorWithItsReason)
{
	Seen seen;
	ClientPtr cp(&seen);
	gs_vici_client_connected(cp.c);
	std::string err;
	// a response nobody asked for
	EXPECT_EQ(feed(cp.c, frame(Operation::CmdResponse, "", Section()), &err), -1);
	EXPECT_FALSE(err.empty());
	// a new connection starts clean
	gs_vici_client_connected(cp.c);
	ASSERT_EQ(gs_vici_client_request(cp.c, "version", nullptr, on_reply, &seen), 0);
	drain(cp.c);
	// a length header over the limit
	EXPECT_EQ(feed(cp.c, Bytes{0x7f, 0xff, 0xff, 0xff}, &err), -1);
	EXPECT_FALSE(err.empty());
	gs_vici_client_disconnected(cp.c);
	EXPECT_EQ(seen.replies, (std::vector<std::string>{"version: (none)"}));
}

TEST(ViciClientC, FormatTruncatesToTheBuffer)
{
	Section s;
	s.add_value("group", "blue");
	static std::string small, empty;
	gs_vici_client_ops ops = {
		[](void *, const char *, const gs_vici_msg *m) {
			char buf[8];
			small = gs_vici_msg_format(m, buf, sizeof(buf));
		},
		nullptr};
	gs_vici_client *c = gs_vici_client_new(&ops, nullptr);
	gs_vici_client_subscribe(c, "ev");
	gs_vici_client_connected(c);
	drain(c);
	ASSERT_EQ(feed(c, frame(Operation::Event, "ev", s)), 0);
	gs_vici_client_free(c);
	EXPECT_EQ(small, "group=b");
}

TEST(ViciClientC, ListItemsAreGivenInOrder)
{
	Section s;
	s.add_value("group", "blue");
	s.add_list("peers", {"gm2.example.net", "C=CH, O=Example, CN=gm3"});
	s.add_section("member").add_list("empty", {});
	static std::vector<std::string> got;
	static long n, none, value, empty;
	got.clear();
	gs_vici_client_ops ops = {
		[](void *, const char *, const gs_vici_msg *m) {
			auto fn = [](void *, const char *item) { got.push_back(item); };
			n = gs_vici_msg_list(m, "peers", fn, nullptr);
			none = gs_vici_msg_list(m, "nope", fn, nullptr);
			value = gs_vici_msg_list(m, "group", fn, nullptr);
			empty = gs_vici_msg_list(m, "member.empty", fn, nullptr);
		},
		nullptr};
	gs_vici_client *c = gs_vici_client_new(&ops, nullptr);
	ASSERT_TRUE(c);
	gs_vici_client_subscribe(c, "ev");
	gs_vici_client_connected(c);
	drain(c);
	ASSERT_EQ(feed(c, frame(Operation::Event, "ev", s)), 0);
	gs_vici_client_free(c);
	EXPECT_EQ(n, 2);
	EXPECT_EQ(got, (std::vector<std::string>{"gm2.example.net", "C=CH, O=Example, CN=gm3"}));
	EXPECT_EQ(none, -1);
	EXPECT_EQ(value, -1);
	EXPECT_EQ(empty, 0);
	EXPECT_EQ(gs_vici_msg_list(nullptr, "peers", nullptr, nullptr), -1);
}
