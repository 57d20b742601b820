// Asio and Beast compiled once for the whole project (BOOST_ASIO_SEPARATE_COMPILATION,
// BOOST_BEAST_SEPARATE_COMPILATION): every other translation unit includes headers only.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
