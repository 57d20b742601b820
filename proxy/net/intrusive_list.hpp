#pragma once
// A minimal intrusive doubly-linked list: O(1) unlink from anywhere, no allocation.
// Used per I/O thread for its connections and its parked polls (single-threaded).

namespace cutover::net {

struct list_hook {
  list_hook* prev = nullptr;
  list_hook* next = nullptr;
  bool linked() const noexcept { return prev != nullptr; }
};

// T derives from list_hook (possibly several times through distinct Tag bases).
template <class T, class Hook = list_hook>
class intrusive_list {
 public:
  intrusive_list() noexcept { head_.prev = head_.next = &head_; }
  intrusive_list(const intrusive_list&) = delete;
  intrusive_list& operator=(const intrusive_list&) = delete;

  bool empty() const noexcept { return head_.next == &head_; }
  std::size_t size() const noexcept { return size_; }

  void push_back(T& item) noexcept {
    list_hook& h = static_cast<Hook&>(item);
    h.prev = head_.prev;
    h.next = &head_;
    head_.prev->next = &h;
    head_.prev = &h;
    ++size_;
  }
  void erase(T& item) noexcept {
    list_hook& h = static_cast<Hook&>(item);
    if (!h.linked()) return;
    h.prev->next = h.next;
    h.next->prev = h.prev;
    h.prev = h.next = nullptr;
    --size_;
  }
  T* front() noexcept { return empty() ? nullptr : as_item(head_.next); }
  // Next item after `item`, or nullptr; read it before anything may unlink `item`.
  T* next(T& item) noexcept {
    list_hook& h = static_cast<Hook&>(item);
    return h.next == &head_ ? nullptr : as_item(h.next);
  }

 private:
  static T* as_item(list_hook* h) noexcept { return static_cast<T*>(static_cast<Hook*>(h)); }
  list_hook head_;
  std::size_t size_ = 0;
};

}  // namespace cutover::net
