#include "serve/client_connection.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include <httplib.h>

namespace pareto::serve {

namespace {

// The address and port of a socket name, in the form httplib reports them.
bool split_address(const sockaddr_storage& a, std::string& addr, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    if (!inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text)) return false;
    port = ntohs(v4.sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    if (!inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text)) return false;
    port = ntohs(v6.sin6_port);
  } else {
    return false;
  }
  addr = text;
  return true;
}

bool is_connection(int fd, const std::string& remote_addr, int remote_port, const std::string& local_addr, int local_port) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  std::string addr;
  int port = -1;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || !split_address(a, addr, port) || port != local_port ||
      addr != local_addr)
    return false;
  len = sizeof a;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || !split_address(a, addr, port)) return false;
  return port == remote_port && addr == remote_addr;
}

// The descriptor of the connection (local and peer address and port), -1 when none matches.
int find_connection(const std::string& remote_addr, int remote_port, const std::string& local_addr, int local_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (const dirent* d = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(d->d_name, &end, 10);
    if (end == d->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    if (is_connection(int(fd), remote_addr, remote_port, local_addr, local_port)) {
      found = int(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

}  // namespace

ClientConnection::ClientConnection(const httplib::Request& req)
    : remote_addr_(req.remote_addr), local_addr_(req.local_addr), remote_port_(req.remote_port), local_port_(req.local_port) {}

bool ClientConnection::closed() {
  if (!looked_up_) {
    looked_up_ = true;
    if (remote_port_ > 0 && local_port_ > 0) fd_ = find_connection(remote_addr_, remote_port_, local_addr_, local_port_);
  }
  if (fd_ < 0) return false;
  char byte = 0;
  const ssize_t n = recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;  // orderly close
  if (n > 0) return false;  // a pipelined next request: still there
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;  // reset or other error
}

}  // namespace pareto::serve
