// SPDX-License-Identifier: GPL-2.0-or-later
// gdoictl against a ControlServer on a real UNIX socket: through its run()
// function and as the built program.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "control.h"
#include "control_test_util.h"

namespace groupsec::gdoi::gdoictl {
// gdoi-plugin/gdoictl.cc
int run(const std::vector<std::string> &args, const char *env_socket, std::string &out, std::string &err);
} // namespace groupsec::gdoi::gdoictl

using namespace groupsec::gdoi;
using namespace groupsec::gdoi::test;

namespace {

// A ControlServer on a UNIX socket in a fresh temporary folder, served by
// one thread, one connection at a time, as the glue would.
class SocketServer {
public:
	SocketServer()
	{
		char tmpl[] = "/tmp/gdoictl-test-XXXXXX";
		dir_ = mkdtemp(tmpl);
		path_ = dir_ + "/gdoi.vici";
		listen_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
		if (bind(listen_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 || listen(listen_, 4) != 0)
			ADD_FAILURE() << "cannot listen on " << path_;
		if (pipe(stop_) != 0)
			ADD_FAILURE() << "pipe";
		thread_ = std::thread([this] { serve(); });
	}
	~SocketServer()
	{
		if (write(stop_[1], "x", 1) != 1)
			ADD_FAILURE() << "cannot stop the server";
		thread_.join();
		close(listen_);
		close(stop_[0]);
		close(stop_[1]);
		unlink(path_.c_str());
		rmdir(dir_.c_str());
	}

	const std::string &path() const { return path_; }

	// The target, locked against the server thread.
	template <typename F> auto with_target(F f)
	{
		std::lock_guard<std::mutex> lock(mutex_);
		return f(target_);
	}
	size_t connections() const { return connections_; }
	// The control server, locked against the server thread.
	template <typename F> auto with_server(F f)
	{
		std::lock_guard<std::mutex> lock(mutex_);
		return f(server_);
	}

private:
	void serve()
	{
		for (;;) {
			pollfd fds[2] = {{listen_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
			if (poll(fds, 2, -1) < 0)
				return;
			if (fds[1].revents)
				return;
			int fd = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			connections_++;
			ControlConnection conn(server_);
			for (;;) {
				// events queued meanwhile go out too
				pollfd in{fd, POLLIN, 0};
				if (poll(&in, 1, 10) == 0) {
					Bytes events;
					{
						std::lock_guard<std::mutex> lock(mutex_);
						conn.take(events);
					}
					if (!events.empty() &&
					    write(fd, events.data(), events.size()) != static_cast<ssize_t>(events.size()))
						break;
					continue;
				}
				uint8_t buf[4096];
				ssize_t n = read(fd, buf, sizeof(buf));
				if (n <= 0)
					break;
				Bytes out;
				bool ok;
				{
					std::lock_guard<std::mutex> lock(mutex_);
					ok = conn.feed(ByteView(buf, static_cast<size_t>(n)), out).ok();
				}
				if (!out.empty() && write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size()))
					break;
				if (!ok)
					break;
			}
			close(fd);
		}
	}

	std::string dir_, path_;
	int listen_ = -1;
	int stop_[2] = {-1, -1};
	std::mutex mutex_;
	FakeTarget target_;
	ControlServer server_{target_};
	std::atomic<size_t> connections_{0};
	std::thread thread_;
};

struct Result {
	int status;
	std::string out, err;
};

Result gdoictl(const std::vector<std::string> &args, const char *env = nullptr)
{
	Result r;
	r.status = gdoictl::run(args, env, r.out, r.err);
	return r;
}

class GdoictlTest : public ::testing::Test {
protected:
	Result with_socket(std::vector<std::string> args)
	{
		args.insert(args.begin(), {"--socket", server.path()});
		return gdoictl(args);
	}
	SocketServer server;
};

TEST_F(GdoictlTest, GroupsAsATable)
{
	Result r = with_socket({"groups"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.err, "");
	EXPECT_EQ(r.out, "NAME  ROLE    STATE       GROUP-ID      MEMBERS  EVICTED  SAS  REKEY-AUTH  SERVER          EVICTION\n"
	                 "blue  server  serving     @#0000012c    2        1        2    signature   -               flat (exposed: tek)\n"
	                 "red   member  registered  198.51.100.1  -        -        1    implicit    192.0.2.1[848]  -\n");
}

TEST_F(GdoictlTest, GroupsAsJson)
{
	Result r = with_socket({"--json", "groups"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out,
	          "{\"groups\":["
	          "{\"name\":\"blue\",\"role\":\"server\",\"state\":\"serving\",\"groupId\":\"@#0000012c\","
	          "\"kekMessageId\":7,\"rekeyAuth\":\"signature\",\"members\":2,\"evicted\":1,"
	          "\"eviction\":{\"keyHierarchy\":\"flat\",\"coalitionExposure\":\"tek\",\"exposedKeks\":9},"
	          "\"sas\":2,\"counters\":{\"received\":12,\"sent\":10,"
	          "\"droppedMalformed\":0,\"droppedAuth\":1,\"droppedReplay\":0,\"droppedUnauthorized\":0,"
	          "\"cookiesSent\":0,\"registrations\":2,\"rekeys\":3,\"invalidSpi\":0,"
	          "\"ikeDeletesSent\":2,\"ikeDeletesReceived\":0,\"ikeRekeys\":0,\"liveness\":40,"
	          "\"livenessFailed\":0,\"unsupportedCritical\":0,\"shortcutSent\":0,\"shortcutReceived\":0,"
	        "\"shortcutUnsent\":0}},"
	          "{\"name\":\"red\",\"role\":\"member\",\"state\":\"registered\",\"groupId\":\"198.51.100.1\","
	          "\"server\":\"192.0.2.1[848]\",\"kekMessageId\":4,\"rekeyAuth\":\"implicit\",\"sas\":1,"
	          "\"senderIds\":[\"5\",\"6\"],\"discovery\":\"auto\","
	          "\"counters\":{\"received\":5,"
	          "\"sent\":0,\"droppedMalformed\":0,\"droppedAuth\":0,\"droppedReplay\":0,"
	          "\"droppedUnauthorized\":0,\"cookiesSent\":0,\"registrations\":0,\"rekeys\":0,\"invalidSpi\":0,"
	          "\"ikeDeletesSent\":0,\"ikeDeletesReceived\":1,\"ikeRekeys\":1,\"liveness\":9,"
	          "\"livenessFailed\":1,\"unsupportedCritical\":0,\"shortcutSent\":0,\"shortcutReceived\":0,"
	        "\"shortcutUnsent\":0}}]}\n");
}

TEST_F(GdoictlTest, RoutingKeysAsATableAndJson)
{
	server.with_target([](FakeTarget &t) {
		GroupRoutingKey blue;
		blue.name = "blue";
		blue.group_id = identity(IdType::KeyId, {0x00, 0x00, 0x01, 0x2c});
		blue.server = true;
		blue.key = RoutingKey{0x1a2b3c4d, SecretBytes(32, 0xab)};
		GroupRoutingKey red;
		red.name = "red";
		red.group_id = identity(IdType::Ipv4Addr, {198, 51, 100, 1});
		t.routing_keys_ = {blue, red};
		return 0;
	});
	std::string key(64, 'b');
	for (size_t i = 0; i < key.size(); i += 2)
		key[i] = 'a';
	Result r = with_socket({"routing-keys"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out, "NAME  ROLE    GROUP-ID      EPOCH     KEY\n"
	                 "blue  server  @#0000012c    1a2b3c4d  " + key + "\n"
	                 "red   member  198.51.100.1  -         -\n");
	Result j = with_socket({"--json", "routing-keys", "blue"});
	EXPECT_EQ(j.status, 0) << j.err;
	EXPECT_EQ(j.out, "{\"groups\":[{\"name\":\"blue\",\"role\":\"server\",\"groupId\":\"@#0000012c\","
	                 "\"groupNumber\":300,\"epoch\":\"1a2b3c4d\",\"key\":\"" + key + "\"}]}\n");
	Result missing = with_socket({"routing-keys", "green"});
	EXPECT_EQ(missing.status, 1);
	EXPECT_NE(missing.err.find("group 'green' not found"), std::string::npos) << missing.err;
	EXPECT_EQ(with_socket({"routing-keys", "blue", "red"}).status, 2);
}

TEST_F(GdoictlTest, MembersAndSas)
{
	Result m = with_socket({"members", "blue"});
	EXPECT_EQ(m.status, 0) << m.err;
	EXPECT_EQ(m.out, "IDENTITY         ADDRESS          FLAT-ID  REGISTERED  PEERS\n"
	                 "gm1.example.net  192.0.2.11[848]  1        120s ago    auto\n"
	                 "gm2@example.net  192.0.2.12[848]  2        4s ago      auto\n"
	                 "evicted (refused until readmitted): gm3.example.net\n");
	Result mj = with_socket({"members", "blue", "--json"});
	EXPECT_EQ(mj.out, "{\"group\":\"blue\",\"members\":["
	                  "{\"id\":\"gm1.example.net\",\"address\":\"192.0.2.11[848]\",\"flatId\":1,\"registered\":120,"
	          "\"senderIds\":[\"5\",\"6\"],\"discovery\":\"auto\"},"
	                  "{\"id\":\"gm2@example.net\",\"address\":\"192.0.2.12[848]\",\"flatId\":2,\"registered\":4,"
	                  "\"discovery\":\"auto\"}],"
	                  "\"evicted\":[\"gm3.example.net\"]}\n");

	Result s = with_socket({"sas", "blue"});
	EXPECT_EQ(s.status, 0) << s.err;
	EXPECT_EQ(s.out, "SPI       ALGORITHM       LIFETIME  EXPIRES   STATE\n"
	                 "1a2b3c4d  AES_GCM_16/256  3600s     in 3412s  current\n"
	                 "0000beef  AES_CBC/128     3600s     in 12s    previous\n");
	Result sj = with_socket({"-j", "sas", "red"});
	EXPECT_EQ(sj.out, "{\"group\":\"red\",\"sas\":[{\"spi\":\"1a2b3c4d\",\"protocol\":\"esp\",\"encrAlg\":"
	                  "\"AES_GCM_16\",\"encrKeysize\":256,\"lifetime\":3600,\"expires\":3412,\"current\":true}]}\n");
}

TEST_F(GdoictlTest, SasWithWhatTheyCarried)
{
	server.with_target([](FakeTarget &t) {
		t.traffic_[{"red", 0x1a2b3c4d}] = SaTraffic{{8400, 100}, {5880, 70}};
		return 0;
	});
	Result s = with_socket({"sas", "red"});
	EXPECT_EQ(s.status, 0) << s.err;
	EXPECT_EQ(s.out, "SPI       ALGORITHM       LIFETIME  EXPIRES   STATE    IN (PACKETS/BYTES)  OUT (PACKETS/BYTES)\n"
	                 "1a2b3c4d  AES_GCM_16/256  3600s     in 3412s  current  100/8400            70/5880\n");
	Result sj = with_socket({"-j", "sas", "red"});
	EXPECT_EQ(sj.out, "{\"group\":\"red\",\"sas\":[{\"spi\":\"1a2b3c4d\",\"protocol\":\"esp\",\"encrAlg\":"
	                  "\"AES_GCM_16\",\"encrKeysize\":256,\"lifetime\":3600,\"expires\":3412,\"current\":true,"
	                  "\"packetsIn\":100,\"bytesIn\":8400,\"packetsOut\":70,\"bytesOut\":5880}]}\n");
}

TEST_F(GdoictlTest, Counters)
{
	Result r = with_socket({"counters", "blue"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out, "group blue\n"
	                 "  received              12\n"
	                 "  sent                  10\n"
	                 "  dropped-malformed     0\n"
	                 "  dropped-auth          1\n"
	                 "  dropped-replay        0\n"
	                 "  dropped-unauthorized  0\n"
	                 "  cookies-sent          0\n"
	                 "  registrations         2\n"
	                 "  rekeys                3\n"
	                 "  invalid-spi           0\n"
	                 "  ike-deletes-sent      2\n"
	                 "  ike-deletes-received  0\n"
	                 "  ike-rekeys            0\n"
	                 "  liveness              40\n"
	                 "  liveness-failed       0\n"
	                 "  unsupported-critical  0\n"
	                 "  shortcut-sent         0\n"
	                 "  shortcut-received     0\n"
	                 "  shortcut-unsent       0\n");
	Result j = with_socket({"--json", "counters", "red"});
	EXPECT_EQ(j.out, "{\"group\":\"red\",\"counters\":{\"received\":5,\"sent\":0,\"droppedMalformed\":0,"
	                 "\"droppedAuth\":0,\"droppedReplay\":0,\"droppedUnauthorized\":0,\"cookiesSent\":0,"
	                 "\"registrations\":0,\"rekeys\":0,\"invalidSpi\":0,\"ikeDeletesSent\":0,"
	                 "\"ikeDeletesReceived\":1,\"ikeRekeys\":1,\"liveness\":9,\"livenessFailed\":1,"
	                 "\"unsupportedCritical\":0,\"shortcutSent\":0,\"shortcutReceived\":0,\"shortcutUnsent\":0}}\n");
	Result missing = with_socket({"counters", "green"});
	EXPECT_EQ(missing.status, 1);
	EXPECT_EQ(missing.err, "gdoictl: counters: group 'green' not found\n");
	EXPECT_EQ(missing.out, "");
}

TEST_F(GdoictlTest, ActionsReachTheTargetAndSayWhatTheyDid)
{
	Result rekey = with_socket({"rekey", "blue"});
	EXPECT_EQ(rekey.status, 0) << rekey.err;
	EXPECT_EQ(rekey.out, "rekey of group blue started\n");
	Result evict = with_socket({"--json", "evict", "blue", "gm2@example.net"});
	EXPECT_EQ(evict.status, 0) << evict.err;
	EXPECT_EQ(evict.out, "{\"action\":\"evict\",\"group\":\"blue\",\"member\":\"gm2@example.net\",\"success\":true}\n");
	Result rereg = with_socket({"reregister", "red"});
	EXPECT_EQ(rereg.out, "re-registration of group red started\n");
	Result readmit = with_socket({"readmit", "blue", "gm3.example.net"});
	EXPECT_EQ(readmit.status, 0) << readmit.err;
	EXPECT_EQ(readmit.out, "gm3.example.net readmitted to group blue: it may register again\n");
	Result again = with_socket({"--json", "readmit", "blue", "gm2@example.net"});
	EXPECT_EQ(again.out, "{\"action\":\"readmit\",\"group\":\"blue\",\"member\":\"gm2@example.net\","
	                     "\"success\":true}\n")
	        << "the one evicted above";
	server.with_target([](FakeTarget &t) {
		EXPECT_EQ(t.actions(), (std::vector<std::string>{"rekey blue", "evict blue gm2@example.net",
		                                                 "reregister red", "readmit blue gm3.example.net",
		                                                 "readmit blue gm2@example.net"}));
		EXPECT_EQ(t.groups_[0].members.size(), 1u);
		EXPECT_TRUE(t.groups_[0].evicted.empty());
		return 0;
	});
}

TEST_F(GdoictlTest, CommandErrorsGoToStderrWithStatusOne)
{
	Result r = with_socket({"rekey", "red"});
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(r.out, "");
	EXPECT_EQ(r.err, "gdoictl: rekey: group 'red' is a member group\n");
	Result e = with_socket({"--json", "evict", "blue", "gm9.example.net"});
	EXPECT_EQ(e.status, 1);
	EXPECT_EQ(e.out, "");
	EXPECT_EQ(e.err, "gdoictl: evict: 'gm9.example.net' is not a member of group 'blue'\n");
	Result ra = with_socket({"--json", "readmit", "blue", "gm1.example.net"});
	EXPECT_EQ(ra.status, 1);
	EXPECT_EQ(ra.out, "");
	EXPECT_EQ(ra.err, "gdoictl: readmit: 'gm1.example.net' is not evicted from group 'blue'\n");
	Result p = with_socket({"add-endpoint", "blue", "192.0.2.21", "10.1.2.3/16"});
	EXPECT_EQ(p.status, 1);
	EXPECT_EQ(p.err, "gdoictl: add-endpoint: prefix '10.1.2.3/16' has host bits set (the network is "
	                 "10.1.0.0/16)\n");
}

TEST_F(GdoictlTest, EndpointsRoundTrip)
{
	Result add = with_socket({"add-endpoint", "blue", "192.0.2.21", "10.1.0.0/16", "10.2.0.0/16"});
	EXPECT_EQ(add.status, 0) << add.err;
	EXPECT_EQ(add.out, "endpoint 192.0.2.21 of group blue: 10.1.0.0/16, 10.2.0.0/16\n");
	Result add6 = with_socket({"--json", "add-endpoint", "blue", "2001:db8::22", "2001:db8:22::/48"});
	EXPECT_EQ(add6.out, "{\"action\":\"add-endpoint\",\"group\":\"blue\",\"gateway\":\"2001:db8::22\","
	                    "\"prefixes\":[\"2001:db8:22::/48\"],\"success\":true}\n");
	Result list = with_socket({"endpoints", "blue"});
	EXPECT_EQ(list.status, 0) << list.err;
	EXPECT_EQ(list.out, "GATEWAY       PREFIXES\n"
	                    "192.0.2.21    10.1.0.0/16, 10.2.0.0/16\n"
	                    "2001:db8::22  2001:db8:22::/48\n");
	Result json = with_socket({"--json", "endpoints", "blue"});
	EXPECT_EQ(json.out, "{\"group\":\"blue\",\"endpoints\":["
	                    "{\"gateway\":\"192.0.2.21\",\"prefixes\":[\"10.1.0.0/16\",\"10.2.0.0/16\"]},"
	                    "{\"gateway\":\"2001:db8::22\",\"prefixes\":[\"2001:db8:22::/48\"]}]}\n");
	Result rm = with_socket({"remove-endpoint", "blue", "192.0.2.21"});
	EXPECT_EQ(rm.out, "endpoint 192.0.2.21 removed from group blue\n");
	Result after = with_socket({"endpoints", "blue"});
	EXPECT_EQ(after.out, "GATEWAY       PREFIXES\n"
	                     "2001:db8::22  2001:db8:22::/48\n");
	with_socket({"remove-endpoint", "blue", "2001:db8::22"});
	EXPECT_EQ(with_socket({"endpoints", "blue"}).out, "group blue: no tunnel endpoints\n");
	EXPECT_EQ(with_socket({"--json", "endpoints", "blue"}).out, "{\"group\":\"blue\",\"endpoints\":[]}\n");
}

TEST_F(GdoictlTest, EmptyListsSayso)
{
	server.with_target([](FakeTarget &t) {
		t.groups_[0].members.clear();
		t.groups_[0].sas.clear();
		return 0;
	});
	EXPECT_EQ(with_socket({"members", "blue"}).out,
	          "group blue: no members\nevicted (refused until readmitted): gm3.example.net\n");
	server.with_target([](FakeTarget &t) {
		t.groups_[0].evicted.clear();
		return 0;
	});
	EXPECT_EQ(with_socket({"members", "blue"}).out, "group blue: no members\n");
	EXPECT_EQ(with_socket({"sas", "blue"}).out, "group blue: no SAs\n");
	server.with_target([](FakeTarget &t) {
		t.groups_.clear();
		return 0;
	});
	EXPECT_EQ(with_socket({"groups"}).out, "no groups\n");
	EXPECT_EQ(with_socket({"groups", "--json"}).out, "{\"groups\":[]}\n");
}

TEST_F(GdoictlTest, UsageErrorsNeverConnect)
{
	struct Case {
		std::vector<std::string> args;
		std::string first_line;
	};
	const std::vector<Case> cases = {
	        {{}, "gdoictl: no command given"},
	        {{"frobnicate"}, "gdoictl: unknown command 'frobnicate'"},
	        {{"members"}, "gdoictl: usage: gdoictl members GROUP"},
	        {{"members", "a", "b"}, "gdoictl: usage: gdoictl members GROUP"},
	        {{"evict", "blue"}, "gdoictl: usage: gdoictl evict GROUP IDENTITY"},
	        {{"readmit", "blue"}, "gdoictl: usage: gdoictl readmit GROUP IDENTITY"},
	        {{"readmit", "blue", "gm3.example.net", "gm4.example.net"},
	         "gdoictl: usage: gdoictl readmit GROUP IDENTITY"},
	        {{"add-endpoint", "blue", "192.0.2.21"}, "gdoictl: usage: gdoictl add-endpoint GROUP GATEWAY PREFIX..."},
	        {{"groups", "extra"}, "gdoictl: usage: gdoictl groups"},
	        {{"--bogus", "groups"}, "gdoictl: unknown option --bogus"},
	};
	for (const Case &c : cases) {
		Result r = with_socket(c.args);
		EXPECT_EQ(r.status, 2);
		EXPECT_EQ(r.out, "");
		EXPECT_EQ(r.err.substr(0, r.err.find('\n')), c.first_line);
	}
	Result dangling = gdoictl({"groups", "--socket"});
	EXPECT_EQ(dangling.status, 2);
	EXPECT_EQ(dangling.err.substr(0, dangling.err.find('\n')), "gdoictl: --socket needs a path");
	EXPECT_EQ(server.connections(), 0u);
	Result help = gdoictl({"--help"});
	EXPECT_EQ(help.status, 0);
	EXPECT_EQ(help.out.rfind("usage: gdoictl [--socket PATH] [--json] COMMAND [ARGUMENT...]\n", 0), 0u);
}

TEST_F(GdoictlTest, SocketChoice)
{
	// GDOICTL_SOCKET when there is no --socket
	Result env = gdoictl({"groups"}, server.path().c_str());
	EXPECT_EQ(env.status, 0) << env.err;
	EXPECT_EQ(server.connections(), 1u);
	// --socket wins over the environment
	Result opt = gdoictl({"--socket=" + server.path(), "groups"}, "/nonexistent/gdoi.vici");
	EXPECT_EQ(opt.status, 0) << opt.err;
	EXPECT_EQ(server.connections(), 2u);
	// nothing listening
	Result none = gdoictl({"groups"}, "/nonexistent/gdoi.vici");
	EXPECT_EQ(none.status, 3);
	EXPECT_EQ(none.err, "gdoictl: cannot connect to /nonexistent/gdoi.vici: No such file or directory\n");
	Result too_long = gdoictl({"-s", std::string(200, 'x'), "groups"});
	EXPECT_EQ(too_long.status, 3);
	EXPECT_NE(too_long.err.find("is empty or too long"), std::string::npos);
}

// A server that answers every request with CMD_UNKNOWN, as a charon vici
// socket would for these commands.
TEST(Gdoictl, ReportsAServerThatDoesNotKnowTheCommand)
{
	char tmpl[] = "/tmp/gdoictl-test-XXXXXX";
	std::string dir = mkdtemp(tmpl);
	std::string path = dir + "/other.vici";
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
	ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
	ASSERT_EQ(listen(lfd, 1), 0);
	std::thread t([lfd] {
		int fd = accept(lfd, nullptr, nullptr);
		uint8_t buf[512];
		if (read(fd, buf, sizeof(buf)) > 0) {
			const uint8_t unknown[] = {0, 0, 0, 1, 2};
			if (write(fd, unknown, sizeof(unknown)) != sizeof(unknown))
				ADD_FAILURE() << "write";
		}
		close(fd);
	});
	Result r = gdoictl({"-s", path, "groups"});
	t.join();
	close(lfd);
	unlink(path.c_str());
	rmdir(dir.c_str());
	EXPECT_EQ(r.status, 3);
	EXPECT_EQ(r.err, "gdoictl: " + path + " does not know the command 'list-groups'\n");
}

// A server that answers one request with response and keeps the request.
groupsec::vici::Packet answer_once(const std::vector<std::string> &args, const groupsec::vici::Section &response, Result &r)
{
	char tmpl[] = "/tmp/gdoictl-test-XXXXXX";
	std::string dir = mkdtemp(tmpl);
	std::string path = dir + "/trust.vici";
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
	EXPECT_EQ(bind(lfd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
	EXPECT_EQ(listen(lfd, 1), 0);
	groupsec::vici::Packet got;
	std::thread t([lfd, &got, &response] {
		int fd = accept(lfd, nullptr, nullptr);
		uint8_t buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 4) {
			auto req = groupsec::vici::decode_packet(ByteView(buf + 4, static_cast<size_t>(n) - 4));
			if (req)
				got = req.value();
			groupsec::vici::Packet resp{groupsec::vici::Operation::CmdResponse, "", response};
			Bytes out = groupsec::vici::encode_packet(resp).value();
			if (write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size()))
				ADD_FAILURE() << "write";
		}
		close(fd);
	});
	std::vector<std::string> argv = {"-s", path};
	argv.insert(argv.end(), args.begin(), args.end());
	r = gdoictl(argv);
	t.join();
	close(lfd);
	unlink(path.c_str());
	rmdir(dir.c_str());
	return got;
}

TEST(Gdoictl, TrustPassesGstrustsArgumentsAndPrintsItsOutput)
{
	groupsec::vici::Section ok;
	ok.add_value("success", "yes");
	ok.add_value("output", "{\"certificates\":[]}\n");
	Result r;
	// gstrust's own options go through; --json before the command asks for its JSON
	groupsec::vici::Packet req = answer_once({"--json", "trust", "trusted", "--group", "blue", "--use", "key-server"}, ok, r);
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out, "{\"certificates\":[]}\n");
	EXPECT_EQ(req.name, "trust");
	ASSERT_NE(req.message.list("args"), nullptr);
	EXPECT_EQ(*req.message.list("args"),
		  (std::vector<std::string>{"--json", "trusted", "--group", "blue", "--use", "key-server"}));

	groupsec::vici::Section failed;
	failed.add_value("success", "no");
	failed.add_value("errmsg", "enable: no collection named nobody");
	req = answer_once({"trust", "enable", "nobody"}, failed, r);
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(r.err, "gdoictl: trust: enable: no collection named nobody\n");
	EXPECT_EQ(*req.message.list("args"), (std::vector<std::string>{"enable", "nobody"}));

	// no command: a usage error, nothing sent
	r = gdoictl({"-s", "/nonexistent/socket", "trust"});
	EXPECT_EQ(r.status, 2);
}

// --- the installed program ---

std::string gdoictl_binary()
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "";
	std::string dir(self, static_cast<size_t>(n));
	dir = dir.substr(0, dir.rfind('/'));
	// tests/gdoi-plugin/ (or its .libs/) -> gdoi-plugin/gdoictl
	for (const char *rel : {"/../../gdoi-plugin/gdoictl", "/../../../gdoi-plugin/gdoictl"}) {
		std::string p = dir + rel;
		if (access(p.c_str(), X_OK) == 0)
			return p;
	}
	return "";
}

Result run_binary(const std::string &binary, const std::vector<std::string> &args, const std::string &env_socket)
{
	int out[2], err[2];
	Result r{-1, "", ""};
	if (pipe(out) != 0 || pipe(err) != 0)
		return r;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		std::vector<char *> argv;
		argv.push_back(const_cast<char *>(binary.c_str()));
		for (const std::string &a : args)
			argv.push_back(const_cast<char *>(a.c_str()));
		argv.push_back(nullptr);
		setenv("GDOICTL_SOCKET", env_socket.c_str(), 1);
		execv(binary.c_str(), argv.data());
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	for (auto [fd, s] : {std::pair<int, std::string *>{out[0], &r.out}, {err[0], &r.err}}) {
		char buf[4096];
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			s->append(buf, static_cast<size_t>(n));
		close(fd);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return r;
}

TEST_F(GdoictlTest, TheBuiltProgramPrintsWhatRunPrints)
{
	std::string binary = gdoictl_binary();
	ASSERT_FALSE(binary.empty()) << "gdoi-plugin/gdoictl not found next to the test";
	for (const std::vector<std::string> &args : std::vector<std::vector<std::string>>{
	             {"groups"}, {"--json", "groups"}, {"sas", "blue"}, {"--json", "members", "blue"}}) {
		Result program = run_binary(binary, args, server.path());
		Result function = gdoictl(args, server.path().c_str());
		EXPECT_EQ(program.status, 0) << program.err;
		EXPECT_EQ(program.out, function.out);
		EXPECT_EQ(program.err, "");
	}
	Result failed = run_binary(binary, {"rekey", "red"}, server.path());
	EXPECT_EQ(failed.status, 1);
	EXPECT_EQ(failed.out, "");
	EXPECT_EQ(failed.err, "gdoictl: rekey: group 'red' is a member group\n");
	Result usage = run_binary(binary, {"evict", "blue"}, server.path());
	EXPECT_EQ(usage.status, 2);
	Result nothing = run_binary(binary, {"groups"}, server.path() + ".missing");
	EXPECT_EQ(nothing.status, 3);
	EXPECT_EQ(nothing.err, "gdoictl: cannot connect to " + server.path() + ".missing: No such file or directory\n");
}

TEST_F(GdoictlTest, MonitorPrintsEventsInOrderAsJsonAndText)
{
	for (bool json : {true, false}) {
		Result r;
		std::vector<std::string> args = {"--socket", server.path(), "monitor", "blue", "--count", "3"};
		if (json)
			args.insert(args.begin(), "--json");
		size_t before = server.connections();
		std::thread monitor([&] { r.status = gdoictl::run(args, nullptr, r.out, r.err); });
		// wait until it listens to every event (it subscribes one by one);
		// on its own connection: the server serves one at a time, so once it
		// accepted this one the previous monitor's subscriptions are gone
		bool listening = false;
		for (int i = 0; i < 500 && !listening; i++) {
			listening = server.connections() > before && server.with_server([](ControlServer &s) {
				for (const char *e : event::kAll)
					if (!s.server().subscribed(e))
						return false;
				return true;
			});
			if (!listening)
				std::this_thread::sleep_for(std::chrono::milliseconds(10));
		}
		ASSERT_TRUE(listening);
		MemberState m;
		m.id = identity(IdType::Fqdn, text_bytes("gm1.example.net"));
		m.address = address({192, 0, 2, 11}, 848);
		m.flat_id = 3;
		server.with_server([&](ControlServer &s) {
			s.member_registered("blue", m, false, 1);
			s.member_evicted("red", m.id, 0); // another group: not shown
			s.rekey("blue", true, 7, true);
			s.member_evicted("blue", m.id, 0);
			s.member_registered("blue", m, false, 1); // after the count
			return 0;
		});
		monitor.join();
		EXPECT_EQ(r.status, 0) << r.err;
		EXPECT_EQ(r.err, "gdoictl: monitor: subscribed to 10 events\n");
		if (json)
			EXPECT_EQ(r.out,
			          "{\"event\":\"member-registered\",\"group\":\"blue\",\"member\":\"gm1.example.net\","
			          "\"address\":\"192.0.2.11\",\"port\":848,\"memberId\":3,\"again\":false,\"members\":1,"
	                  "\"discovery\":\"auto\"}\n"
			          "{\"event\":\"rekey\",\"group\":\"blue\",\"role\":\"server\",\"messageId\":7,"
			          "\"newKek\":true}\n"
			          "{\"event\":\"member-evicted\",\"group\":\"blue\",\"member\":\"gm1.example.net\","
			          "\"members\":0}\n");
		else
			EXPECT_EQ(r.out, "member-registered group=blue member=gm1.example.net address=192.0.2.11 port=848 "
			                 "member-id=3 again=no members=1 discovery=auto\n"
			                 "rekey group=blue role=server message-id=7 new-kek=yes\n"
			                 "member-evicted group=blue member=gm1.example.net members=0\n");
	}
}

TEST_F(GdoictlTest, MonitorUsage)
{
	Result extra = gdoictl({"--socket", server.path(), "monitor", "blue", "red"});
	EXPECT_EQ(extra.status, 2);
	Result count = gdoictl({"--socket", server.path(), "groups", "--count", "2"});
	EXPECT_EQ(count.status, 2);
	Result zero = gdoictl({"--socket", server.path(), "monitor", "--count", "0"});
	EXPECT_EQ(zero.status, 2);
	Result gone = gdoictl({"--socket", server.path() + ".missing", "monitor"});
	EXPECT_EQ(gone.status, 3);
}

// gdoictl shortcuts / request-shortcut / remove-shortcut against a target
// without shortcut groups: the listing says so, the actions fail with the
// target's message (exit 1), bad usage is refused before sending (exit 2).
TEST_F(GdoictlTest, ShortcutCommandsWithoutShortcutGroups)
{
	Result r = with_socket({"shortcuts"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out, "no group has shortcuts configured\n");
	Result j = with_socket({"--json", "shortcuts"});
	EXPECT_EQ(j.status, 0) << j.err;
	EXPECT_EQ(j.out, "{\"groups\":[]}\n");
	Result one = with_socket({"shortcuts", "blue"});
	EXPECT_EQ(one.status, 1);
	EXPECT_EQ(one.err, "gdoictl: shortcuts: group 'blue' has no shortcuts configured\n");
	Result req = with_socket({"request-shortcut", "blue", "gm1.example.net", "gm2.example.net"});
	EXPECT_EQ(req.status, 1);
	EXPECT_EQ(req.err, "gdoictl: request-shortcut: group 'blue' has no shortcut members\n");
	Result rm = with_socket({"remove-shortcut", "blue", "x"});
	EXPECT_EQ(rm.status, 1);
	EXPECT_EQ(rm.err, "gdoictl: remove-shortcut: id 'x' is not a shortcut ID (1 to 4294967295)\n");
	Result usage = with_socket({"request-shortcut", "blue", "gm1.example.net"});
	EXPECT_EQ(usage.status, 2);
	EXPECT_EQ(usage.err, "gdoictl: usage: gdoictl request-shortcut GROUP A B\n");
}

} // namespace
