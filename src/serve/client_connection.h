// Whether the client of a request still waits for the answer.
//
// A streamed answer finds out by writing (every token, or a comment line
// each second); a whole answer writes nothing until it is done, so without
// this a client that gave up would keep its slot generating up to
// max_tokens. cpp-httplib 0.11 (Debian 12) gives a handler no handle on
// its connection (later versions have Request::is_connection_closed), so
// the connection is found as the one socket of this process whose local
// and peer addresses are the request's, and a non-blocking peek tells
// whether the peer closed it. A client that only half-closes (shuts down
// its sending side but still reads) reads the same as gone; HTTP clients
// do not do that while they wait for a response.
#pragma once
#include <string>

namespace httplib {
struct Request;
}

namespace pareto::serve {

class ClientConnection {
 public:
  explicit ClientConnection(const httplib::Request& req);
  // True once the peer has closed or reset the connection. Looks the socket
  // up on the first call; a socket that cannot be found never reads as gone.
  bool closed();

 private:
  std::string remote_addr_, local_addr_;
  int remote_port_ = -1, local_port_ = -1;
  int fd_ = -1;
  bool looked_up_ = false;
};

}  // namespace pareto::serve
