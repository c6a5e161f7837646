// SPDX-License-Identifier: GPL-2.0-or-later
// gdoi_core_load() as the glue calls it at start and on every reload: what
// runs on, what starts again, what does not start and why, and the
// identities evicted before, from the glue's store.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gdoi_core.h"
#include "gdoi_core_env_util.h"
#include "groupsec/vici/vici_wire.h"

namespace groupsec::gdoi::test {
namespace {

// The glue: counts datagrams, signs when it has a key, keeps evicted
// identities in memory, records the log.
struct Glue : RecordingEnv {
	bool can_sign = true;
	bool store_unreadable = false;
	std::map<std::string, std::vector<std::pair<uint8_t, std::string>>> evicted;
	std::vector<std::string> errors, warnings;

	static Glue *of(void *ctx) { return static_cast<Glue *>(RecordingEnv::of(ctx)); }
	static bool sign(void *ctx, const gdoi_id_t *, const uint8_t *, size_t, uint8_t **auth, size_t *len)
	{
		if (!of(ctx)->can_sign)
			return false;
		// ASN.1 length 2, an "AlgorithmIdentifier", a "signature"
		static const uint8_t a[] = {2, 0x30, 0x00, 0xaa, 0xbb};
		*auth = static_cast<uint8_t *>(malloc(sizeof(a)));
		memcpy(*auth, a, sizeof(a));
		*len = sizeof(a);
		return true;
	}
	// the public key of that key (RFC 9838 AUTH_KEY), a stand-in
	static bool public_key(void *ctx, const gdoi_id_t *, uint8_t **spki, size_t *len)
	{
		if (!of(ctx)->can_sign)
			return false;
		static const uint8_t k[] = {0x30, 0x03, 0x30, 0x01, 0x00};
		*spki = static_cast<uint8_t *>(malloc(sizeof(k)));
		memcpy(*spki, k, sizeof(k));
		*len = sizeof(k);
		return true;
	}
	static void log(void *ctx, gdoi_log_level_t level, const char *msg)
	{
		if (level == GDOI_LOG_ERROR)
			of(ctx)->errors.push_back(msg);
		else if (level == GDOI_LOG_WARNING)
			of(ctx)->warnings.push_back(msg);
	}
	static bool load_evicted(void *ctx, const char *group, void (*add)(void *, const gdoi_id_t *), void *list,
				 char *err, size_t err_len)
	{
		if (of(ctx)->store_unreadable) {
			snprintf(err, err_len, "/state/%s.evicted: line 2: not an identity", group);
			return false;
		}
		for (const auto &[type, data] : of(ctx)->evicted[group]) {
			gdoi_id_t id{type, reinterpret_cast<const uint8_t *>(data.data()), data.size()};
			add(list, &id);
		}
		return true;
	}
	static bool save_evicted(void *ctx, const char *group, const gdoi_id_t *ids, size_t count, char *, size_t)
	{
		auto &list = of(ctx)->evicted[group];
		list.clear();
		for (size_t i = 0; i < count; i++)
			list.emplace_back(ids[i].type, std::string(reinterpret_cast<const char *>(ids[i].data), ids[i].len));
		return true;
	}

	gdoi_core_env_t env()
	{
		gdoi_core_env_t e = RecordingEnv::env();
		e.sign = sign;
		e.public_key = public_key;
		e.log = log;
		e.load_evicted = load_evicted;
		e.save_evicted = save_evicted;
		return e;
	}
};

const Settings kServer = {
	{"blue.role", "server"},
	{"blue.group_id", "1234"},
	{"blue.local_id", "ks.example.net"},
	{"blue.listen", "192.0.2.1"},
	{"blue.members", "gm1.example.net, gm2.example.net, gm3.example.net"},
	{"blue.tek-1.local_ts", "10.0.0.0/8"},
	{"blue.tek-1.remote_ts", "10.0.0.0/8"},
};

const Settings kMember = {
	{"red.role", "member"},
	{"red.group_id", "99"},
	{"red.local_id", "gm1.example.net"},
	{"red.local_addrs", "192.0.2.11"},
	{"red.servers", "192.0.2.2"},
	{"red.server_id", "ks2.example.net"},
};

Settings both(Settings a, const Settings &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

Settings with(Settings s, const std::string &key, const std::string &value)
{
	for (auto &kv : s)
		if (kv.first == key) {
			kv.second = value;
			return s;
		}
	s.emplace_back(key, value);
	return s;
}

// The response of one control socket command, decoded.
vici::Section command(gdoi_core_t *core, const std::string &name, const vici::Section &args = {})
{
	vici::Packet p;
	p.op = vici::Operation::CmdRequest;
	p.name = name;
	p.message = args;
	auto bytes = vici::encode_packet(p);
	EXPECT_TRUE(bytes.ok());
	gdoi_control_conn_t *conn = gdoi_core_control_open(core);
	uint8_t *out = nullptr;
	size_t out_len = 0;
	EXPECT_TRUE(gdoi_core_control_input(conn, bytes.value().data(), bytes.value().size(), &out, &out_len));
	gdoi_core_control_close(conn);
	vici::Section r;
	if (out_len > 4) {
		auto reply = vici::decode_packet(ByteView(out + 4, out_len - 4));
		EXPECT_TRUE(reply.ok());
		if (reply.ok())
			r = reply.value().message;
	}
	free(out);
	return r;
}

std::string group_value(gdoi_core_t *core, const std::string &group, const std::string &key)
{
	vici::Section r = command(core, "list-groups");
	const vici::Section *groups = r.section("groups");
	const vici::Section *g = groups ? groups->section(group) : nullptr;
	const std::string *v = g ? g->value(key) : nullptr;
	return v ? *v : "<absent>";
}

class CoreLoad : public ::testing::Test {
protected:
	void SetUp() override
	{
		env = glue.env();
		core = gdoi_core_create(&env, 1000);
		ASSERT_NE(core, nullptr);
	}
	void TearDown() override { gdoi_core_destroy(core); }

	Glue glue;
	gdoi_core_env_t env{};
	gdoi_core_t *core = nullptr;
	std::string err;
};

TEST_F(CoreLoad, AKeyServerGroupStartsOnlyWhenItCanSign)
{
	glue.can_sign = false;
	EXPECT_EQ(load(core, both(kServer, kMember), err), 1) << "the member group runs";
	EXPECT_NE(err.find("no private key of ks.example.net"), std::string::npos) << err;
	EXPECT_NE(err.find("group blue not started"), std::string::npos) << err;
	ASSERT_EQ(glue.errors.size(), 1u);
	EXPECT_EQ(glue.errors[0], err);
	EXPECT_EQ(group_value(core, "blue", "state"), "<absent>");
	// the key is loaded, then the configuration again (reload-settings)
	glue.can_sign = true;
	EXPECT_EQ(load(core, both(kServer, kMember), err), 2);
	EXPECT_EQ(err, "");
	EXPECT_EQ(group_value(core, "blue", "state"), "serving");
	EXPECT_EQ(group_value(core, "blue", "rekey-auth"), "signature");
	// a running group whose key went away keeps running as it was
	glue.can_sign = false;
	EXPECT_EQ(load(core, with(kServer, "blue.tek_lifetime", "2h"), err), 1);
	EXPECT_NE(err.find("group blue keeps running as it was"), std::string::npos) << err;
	EXPECT_EQ(group_value(core, "blue", "state"), "serving");
	EXPECT_EQ(group_value(core, "red", "state"), "<absent>") << "no longer configured";
}

TEST_F(CoreLoad, ImplicitAuthenticationIsAWarning)
{
	glue.can_sign = false;
	Settings s = both(with(kServer, "blue.rekey_auth", "implicit"), with(kMember, "red.rekey_auth", "implicit"));
	EXPECT_EQ(load(core, s, err), 2) << err;
	EXPECT_EQ(err, "");
	ASSERT_EQ(glue.warnings.size(), 2u);
	EXPECT_NE(glue.warnings[0].find("group blue: GSA_REKEY messages are not signed"), std::string::npos);
	EXPECT_NE(glue.warnings[1].find("group red: unsigned GSA_REKEY messages are accepted"), std::string::npos);
	EXPECT_EQ(group_value(core, "blue", "rekey-auth"), "implicit");
	EXPECT_EQ(group_value(core, "red", "rekey-auth"), "implicit");
}

TEST_F(CoreLoad, EvictedIdentitiesComeFromTheGlueAndStay)
{
	glue.evicted["blue"] = {{2, "gm3.example.net"}};
	ASSERT_EQ(load(core, kServer, err), 1) << err;
	EXPECT_EQ(group_value(core, "blue", "evicted"), "1");
	vici::Section args;
	args.add_value("group", "blue");
	args.add_value("member", "gm3.example.net");
	vici::Section r = command(core, "readmit", args);
	ASSERT_NE(r.value("success"), nullptr);
	EXPECT_EQ(*r.value("success"), "yes");
	EXPECT_TRUE(glue.evicted["blue"].empty()) << "stored through the glue";
	EXPECT_EQ(group_value(core, "blue", "evicted"), "0");
	// a store that cannot be read keeps a new group down
	glue.store_unreadable = true;
	Settings green = kServer;
	for (auto &kv : green)
		kv.first.replace(0, 4, "green");
	green = with(green, "green.group_id", "5678");
	EXPECT_EQ(load(core, both(kServer, green), err), 1);
	EXPECT_NE(err.find("group green: evicted members: /state/green.evicted: line 2: not an identity; group "
			   "green not started"),
		  std::string::npos)
		<< err;
	EXPECT_EQ(group_value(core, "blue", "state"), "serving");
	EXPECT_EQ(group_value(core, "green", "state"), "<absent>");
}

TEST_F(CoreLoad, AReloadLeavesAnUnchangedMemberGroupAlone)
{
	ASSERT_EQ(load(core, kMember, err), 1) << err;
	gdoi_core_tick(core);
	EXPECT_EQ(glue.sent, 1) << "IKE_SA_INIT";
	EXPECT_EQ(group_value(core, "red", "state"), "registering");
	ASSERT_EQ(load(core, kMember, err), 1) << err;
	gdoi_core_tick(core);
	EXPECT_EQ(glue.sent, 1) << "the same registration goes on";
	EXPECT_EQ(group_value(core, "red", "state"), "registering");
	// changed settings: the group starts over
	ASSERT_EQ(load(core, with(kMember, "red.reregister_margin", "2m"), err), 1) << err;
	gdoi_core_tick(core);
	EXPECT_EQ(glue.sent, 2);
	// so do a new liveness and IKE SA lifetime
	ASSERT_EQ(load(core, with(with(kMember, "red.reregister_margin", "2m"), "red.liveness", "2s"), err), 1) << err;
	gdoi_core_tick(core);
	EXPECT_EQ(glue.sent, 3);
	ASSERT_EQ(load(core,
		       with(with(with(kMember, "red.reregister_margin", "2m"), "red.liveness", "2s"), "red.ike_lifetime",
			    "1h"),
		       err),
		  1)
		<< err;
	gdoi_core_tick(core);
	EXPECT_EQ(glue.sent, 4);
}


// The groups of a configuration request: "blue.tek-1.local_ts" is the
// value local_ts of section tek-1 of section blue.
vici::Section config_request(const std::string &source, const Settings &settings, bool with_groups = true)
{
	vici::Section req;
	req.add_value("source", source);
	if (!with_groups)
		return req;
	vici::Section &groups = req.add_section("groups");
	for (const auto &[key, value] : settings) {
		vici::Section *at = &groups;
		size_t start = 0, dot;
		while ((dot = key.find('.', start)) != std::string::npos) {
			std::string name = key.substr(start, dot - start);
			vici::Section *sub = at->section(name);
			at = sub ? sub : &at->add_section(name);
			start = dot + 1;
		}
		at->add_value(key.substr(start), value);
	}
	return req;
}

std::string answer(const vici::Section &r)
{
	const std::string *ok = r.value("success");
	const std::string *msg = r.value("errmsg");
	if (ok && *ok == "yes")
		return "yes";
	return msg ? *msg : "<no answer>";
}

// check-config, load-config and unload-config: a client's groups beside
// the file's, checked by the file's parser, all or nothing.
TEST_F(CoreLoad, AClientSourceIsCheckedAndLoadedBesideTheFile)
{
	ASSERT_EQ(load(core, kMember, err), 1) << err;
	// checked: nothing changes
	EXPECT_EQ(answer(command(core, "check-config", config_request("bgpd", kServer))), "yes");
	EXPECT_EQ(group_value(core, "blue", "state"), "<absent>");
	// loaded
	EXPECT_EQ(answer(command(core, "load-config", config_request("bgpd", kServer))), "yes");
	EXPECT_EQ(group_value(core, "blue", "state"), "serving");
	EXPECT_NE(group_value(core, "red", "state"), "<absent>") << "the file's group stays";
	// a value the parser refuses: its error, naming the setting; nothing changes
	for (const char *cmd : {"check-config", "load-config"}) {
		auto bad = with(kServer, "blue.tek-1.local_ts", "10.0.0.0/33");
		EXPECT_EQ(answer(command(core, cmd, config_request("bgpd", bad))),
			  "groups.blue.tek-1.local_ts: \"10.0.0.0/33\" is not a traffic selector (prefix length above 32)");
		EXPECT_NE(answer(command(core, cmd, config_request("bgpd", with(kServer, "blue.kek_lifetime", "30")))),
			  "yes");
	}
	EXPECT_EQ(group_value(core, "blue", "state"), "serving");
	EXPECT_EQ(group_value(core, "blue", "group-id"), "@#000004d2");
	// a group of the file, or a group ID of the file's role, is not the client's
	Settings red = kMember;
	EXPECT_EQ(answer(command(core, "load-config", config_request("bgpd", both(kServer, red)))),
		  "groups.red: a group of the settings file");
	Settings red2;
	for (auto [k, v] : kMember)
		red2.emplace_back("red2" + k.substr(3), v);
	EXPECT_NE(answer(command(core, "load-config", config_request("bgpd", red2))).find("is already the group ID"),
		  std::string::npos);
	// the file cannot take the client's group either
	EXPECT_EQ(load(core, both(kMember, kServer), err), -1);
	EXPECT_EQ(err, "groups.blue: a group of source 'bgpd'");
	EXPECT_EQ(load(core, with(kMember, "red.reregister_margin", "2m"), err), 2) << err;
	// malformed requests
	EXPECT_EQ(answer(command(core, "load-config", config_request("file", kServer))),
		  "load-config: source 'file' is the settings file's");
	EXPECT_EQ(answer(command(core, "load-config", config_request("bad name", kServer))),
		  "load-config: source 'bad name' is not a name (up to 32 letters, digits, '-' and '_')");
	vici::Section listed = config_request("bgpd", {});
	listed.section("groups")->add_section("blue").add_list("members", {"gm1", "gm2"});
	EXPECT_EQ(answer(command(core, "load-config", listed)),
		  "load-config: groups.blue.members is a list: give the value as text (comma-separated)");
	EXPECT_EQ(group_value(core, "blue", "state"), "serving");
	// a new list of groups replaces the source's
	Settings green = kServer;
	for (auto &kv : green)
		kv.first.replace(0, 4, "green");
	EXPECT_EQ(answer(command(core, "load-config", config_request("bgpd", green))), "yes");
	EXPECT_EQ(group_value(core, "blue", "state"), "<absent>");
	EXPECT_EQ(group_value(core, "green", "state"), "serving");
	// unloaded, twice; a request without groups has none
	EXPECT_EQ(answer(command(core, "unload-config", config_request("bgpd", {}, false))), "yes");
	EXPECT_EQ(group_value(core, "green", "state"), "<absent>");
	EXPECT_EQ(answer(command(core, "unload-config", config_request("bgpd", {}, false))), "yes");
	EXPECT_EQ(answer(command(core, "load-config", config_request("bgpd", green))), "yes");
	EXPECT_EQ(answer(command(core, "load-config", config_request("bgpd", {}, false))), "yes");
	EXPECT_EQ(group_value(core, "green", "state"), "<absent>");
	EXPECT_NE(group_value(core, "red", "state"), "<absent>");
}

// Groups waiting for the election plugin: a key server group serves only
// where this node is elected, a member group registers to the elected
// server; a group that does not wait is refused and nothing changes.
TEST_F(CoreLoad, ElectedGroupsFollowTheElection)
{
	Settings member;
	for (const auto &kv : kMember)
		if (kv.first != "red.server_id")
			member.push_back(kv);
	member = with(member, "red.servers", "election");
	ASSERT_EQ(load(core, both(with(kServer, "blue.election", "yes"), member), err), 0) << err;
	EXPECT_EQ(group_value(core, "blue", "state"), "<absent>") << "dormant until elected";
	EXPECT_EQ(group_value(core, "red", "state"), "<absent>") << "no server known yet";

	char why[256] = "";
	// another node won: blue stays dormant
	EXPECT_TRUE(gdoi_core_set_elected(core, "blue", "ks2.example.net", "192.0.2.2", false, why, sizeof(why)));
	EXPECT_EQ(group_value(core, "blue", "state"), "<absent>");
	// this node won: blue serves; a reload keeps it so
	EXPECT_TRUE(gdoi_core_set_elected(core, "blue", "ks.example.net", "192.0.2.1", true, why, sizeof(why)));
	EXPECT_EQ(group_value(core, "blue", "state"), "serving");
	ASSERT_EQ(load(core, both(with(kServer, "blue.election", "yes"), member), err), 1) << err;
	EXPECT_EQ(group_value(core, "blue", "state"), "serving");
	// lost the office: blue stops
	EXPECT_TRUE(gdoi_core_set_elected(core, "blue", "ks2.example.net", "192.0.2.2", false, why, sizeof(why)));
	EXPECT_EQ(group_value(core, "blue", "state"), "<absent>");

	// the member registers to the elected server, then to the next one
	EXPECT_TRUE(gdoi_core_set_elected(core, "red", "ks2.example.net", "192.0.2.2", false, why, sizeof(why)));
	gdoi_core_tick(core);
	EXPECT_EQ(group_value(core, "red", "state"), "registering");
	EXPECT_EQ(group_value(core, "red", "server"), "192.0.2.2[848]");
	int sent = glue.sent;
	EXPECT_TRUE(gdoi_core_set_elected(core, "red", "ks2.example.net", "192.0.2.2", false, why, sizeof(why)));
	gdoi_core_tick(core);
	EXPECT_EQ(glue.sent, sent) << "the same server: the registration goes on";
	EXPECT_TRUE(gdoi_core_set_elected(core, "red", "ks3.example.net", "192.0.2.3", false, why, sizeof(why)));
	gdoi_core_tick(core);
	EXPECT_EQ(glue.sent, sent + 1) << "IKE_SA_INIT to the new server";
	EXPECT_EQ(group_value(core, "red", "server"), "192.0.2.3[848]");
	// no server any more: the member group stops
	EXPECT_TRUE(gdoi_core_set_elected(core, "red", nullptr, nullptr, false, why, sizeof(why)));
	EXPECT_EQ(group_value(core, "red", "state"), "<absent>");

	// elected without a signing key: the group cannot start, it starts
	// with the reload after the key is loaded
	glue.can_sign = false;
	EXPECT_FALSE(gdoi_core_set_elected(core, "blue", "ks.example.net", "192.0.2.1", true, why, sizeof(why)));
	EXPECT_NE(std::string(why).find("no private key"), std::string::npos) << why;
	EXPECT_EQ(group_value(core, "blue", "state"), "<absent>");
	glue.can_sign = true;
	ASSERT_EQ(load(core, both(with(kServer, "blue.election", "yes"), member), err), 1) << err;
	EXPECT_EQ(group_value(core, "blue", "state"), "serving");
	EXPECT_TRUE(gdoi_core_set_elected(core, "blue", "ks2.example.net", "192.0.2.2", false, why, sizeof(why)));

	// refused, with the reason, nothing changed
	EXPECT_FALSE(gdoi_core_set_elected(core, "green", "ks.example.net", "192.0.2.1", true, why, sizeof(why)));
	EXPECT_STREQ(why, "group 'green' does not wait for an election");
	EXPECT_FALSE(gdoi_core_set_elected(core, "red", "ks.example.net", "not an address", false, why, sizeof(why)));
	EXPECT_NE(std::string(why).find("not an address"), std::string::npos) << why;
	EXPECT_EQ(group_value(core, "red", "state"), "<absent>");
}

// Commands and events of another plugin on the control socket: served,
// answered by its callback, and never in place of the core's own.
TEST_F(CoreLoad, OtherPluginsServeCommandsAndEvents)
{
	struct Ext {
		static bool list(void *ctx, const uint8_t *req, size_t len, uint8_t **out, size_t *out_len)
		{
			auto r = vici::decode_message(ByteView(req, len));
			vici::Section m;
			m.add_value("success", "yes");
			m.add_value("asked", r.ok() && r.value().value("group") ? *r.value().value("group") : "-");
			Bytes b = vici::encode_message(m).value();
			*out = static_cast<uint8_t *>(malloc(b.size()));
			memcpy(*out, b.data(), b.size());
			*out_len = b.size();
			return true;
		}
		static bool none(void *, const uint8_t *, size_t, uint8_t **, size_t *) { return false; }
	};
	EXPECT_TRUE(gdoi_core_control_add_command(core, "list-elections", Ext::list, nullptr));
	EXPECT_FALSE(gdoi_core_control_add_command(core, "list-elections", Ext::list, nullptr)) << "taken";
	EXPECT_FALSE(gdoi_core_control_add_command(core, "list-groups", Ext::list, nullptr)) << "the core's own";
	EXPECT_TRUE(gdoi_core_control_add_command(core, "broken", Ext::none, nullptr));
	vici::Section args;
	args.add_value("group", "ks");
	EXPECT_EQ(*command(core, "list-elections", args).value("asked"), "ks");
	EXPECT_EQ(*command(core, "broken").value("success"), "no");
	EXPECT_TRUE(gdoi_core_control_add_event(core, "leader-changed"));
	EXPECT_FALSE(gdoi_core_control_add_event(core, "rekey")) << "the core's own";
	vici::Section ev;
	ev.add_value("group", "ks");
	Bytes b = vici::encode_message(ev).value();
	EXPECT_TRUE(gdoi_core_control_emit(core, "leader-changed", b.data(), b.size()));
	EXPECT_FALSE(gdoi_core_control_emit(core, "rekey", b.data(), b.size())) << "not another plugin's to send";
	const uint8_t junk[] = {9, 9};
	EXPECT_FALSE(gdoi_core_control_emit(core, "leader-changed", junk, sizeof(junk)));
	gdoi_core_control_remove(core, "list-elections");
	gdoi_core_control_remove(core, "list-groups"); // not added: stays
	EXPECT_TRUE(command(core, "list-elections").empty()) << "unknown again";
	EXPECT_EQ(*command(core, "list-groups").value("success"), "yes");
}

// The control socket's C interface as the glue drives it: a client
// subscribes, another adds an endpoint; the first is woken and reads the
// event, the second its response; a client that never reads is bounded.
TEST_F(CoreLoad, ControlClientsGetEventsThroughTheGlueInterface)
{
	struct Woken {
		static void wake(void *ctx, unsigned id) { static_cast<Glue *>(ctx)->woken.push_back(id); }
	};
	gdoi_core_destroy(core);
	env.control_wake = Woken::wake;
	core = gdoi_core_create(&env, 1000);
	ASSERT_NE(core, nullptr);
	ASSERT_EQ(load(core, kMember, err), 1) << err;

	auto send = [&](unsigned id, vici::Operation op, const std::string &name, const vici::Section &m = {}) {
		vici::Packet p;
		p.op = op;
		p.name = name;
		p.message = m;
		Bytes b = vici::encode_packet(p).value();
		return gdoi_core_client_input(core, id, b.data(), b.size());
	};
	// everything queued for a client, taken in two reads
	auto take = [&](unsigned id) {
		std::vector<vici::Packet> got;
		uint8_t buf[8];
		Bytes all;
		long n;
		while ((n = gdoi_core_client_output(core, id, buf, sizeof(buf))) > 0) {
			all.insert(all.end(), buf, buf + n);
			gdoi_core_client_written(core, id, static_cast<size_t>(n));
		}
		EXPECT_EQ(n, 0);
		vici::StreamReader r;
		r.push(all);
		while (true) {
			auto next = r.next();
			if (!next.ok() || !next.value())
				break;
			got.push_back(vici::decode_packet(*next.value()).value());
		}
		return got;
	};

	ASSERT_TRUE(gdoi_core_client_open(core, 7));
	ASSERT_TRUE(gdoi_core_client_open(core, 9));
	EXPECT_FALSE(gdoi_core_client_open(core, 7)) << "ids are unique";
	ASSERT_TRUE(send(7, vici::Operation::EventRegister, "endpoint-changed"));
	EXPECT_EQ(glue.woken, std::vector<unsigned>{7});
	auto got = take(7);
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0].op, vici::Operation::EventConfirm);

	vici::Section add;
	add.add_value("group", "red");
	add.add_value("gateway", "192.0.2.21");
	add.add_list("prefixes", {"10.1.0.0/16"});
	ASSERT_TRUE(send(9, vici::Operation::CmdRequest, "add-endpoint", add));
	EXPECT_EQ(glue.woken, (std::vector<unsigned>{7, 7, 9}));
	got = take(7);
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0].op, vici::Operation::Event);
	EXPECT_EQ(got[0].name, "endpoint-changed");
	EXPECT_EQ(*got[0].message.value("change"), "added");
	EXPECT_EQ(*got[0].message.value("gateway"), "192.0.2.21");
	EXPECT_EQ(*got[0].message.list("prefixes"), std::vector<std::string>{"10.1.0.0/16"});
	got = take(9);
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(*got[0].message.value("success"), "yes");

	// a client that asks and asks and never reads: dropped at its bound,
	// the output call says to close it
	glue.woken.clear();
	bool closing = false;
	for (int i = 0; i < 100000 && !closing; i++) {
		send(9, vici::Operation::CmdRequest, "list-groups");
		uint8_t none[1];
		closing = gdoi_core_client_output(core, 9, none, 0) < 0;
	}
	EXPECT_TRUE(closing);
	EXPECT_EQ(glue.woken.back(), 9u);
	EXPECT_FALSE(send(9, vici::Operation::CmdRequest, "list-groups") &&
		     gdoi_core_client_output(core, 9, nullptr, 0) >= 0);
	gdoi_core_client_close(core, 9);
	EXPECT_EQ(gdoi_core_client_output(core, 9, nullptr, 0), -1) << "closed";
	// the other is fine
	vici::Section rm;
	rm.add_value("group", "red");
	rm.add_value("gateway", "192.0.2.21");
	ASSERT_TRUE(send(7, vici::Operation::CmdRequest, "remove-endpoint", rm));
	got = take(7);
	ASSERT_EQ(got.size(), 2u);
	EXPECT_EQ(*got[0].message.value("change"), "removed");
	EXPECT_EQ(got[1].op, vici::Operation::CmdResponse);
	gdoi_core_client_close(core, 7);
}

} // namespace
} // namespace groupsec::gdoi::test
