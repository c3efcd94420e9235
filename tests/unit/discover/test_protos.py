"""The services ``.proto`` files declare, and their full names."""

from __future__ import annotations

from decouple_services.discover.protos import (
    ProtoService,
    by_name,
    proto_messages,
    proto_services,
    read_proto_messages,
)

NO_PACKAGE = """\
syntax = "proto3";
import "user/user.proto";

// service Commented { rpc Gone(A) returns (B); }
service IdentityService {
  rpc logout(AccessToken) returns (google.protobuf.Empty){}
  /* rpc hidden(A) returns (B); */
  rpc get_user_by_id(UserByIdRequest) returns (GrpcUser){}
}
"""

WITH_PACKAGE = """\
syntax = "proto3";
package shop.billing.v1;

service Billing {
  rpc Charge(ChargeRequest) returns (ChargeReply) {
    option (google.api.http) = { post: "/v1/charges" };
  }
  rpc Refund(RefundRequest) returns (RefundReply);
}
service Audit { rpc Record(Entry) returns (Empty); }
"""


def test_a_proto_without_package_names_its_service_bare() -> None:
    [service] = proto_services("protos/identity.proto", NO_PACKAGE)
    assert service.full_name == "IdentityService"
    assert service.methods == ("logout", "get_user_by_id")
    assert service.path("logout") == "/IdentityService/logout"
    assert service.line == 5


def test_a_package_prefixes_every_service_of_the_file() -> None:
    billing, audit = proto_services("billing.proto", WITH_PACKAGE)
    assert billing.path("Charge") == "/shop.billing.v1.Billing/Charge"
    assert billing.methods == ("Charge", "Refund")
    assert (audit.full_name, audit.methods) == ("shop.billing.v1.Audit", ("Record",))


def test_copies_of_one_service_merge_and_one_name_in_two_packages_is_left_out() -> None:
    copies = [
        ProtoService("Users", "", ("Get",), "a/users.proto", 3),
        ProtoService("Users", "", ("Get", "Delete"), "b/users.proto", 3),
        ProtoService("Billing", "shop", ("Charge",), "shop.proto", 4),
        ProtoService("Billing", "legacy", ("Charge",), "legacy.proto", 4),
    ]
    found = by_name(copies)
    assert set(found) == {"Users"}
    assert found["Users"].methods == ("Get", "Delete")


MESSAGES = """\
syntax = "proto3";
message NotificationRequest {
  GrpcNotification notification = 1;
  shared.GrpcUser requesting_user = 2;
}
message GrpcNotification {
  string id = 1;  // the entity's
  repeated string tags = 2;
  oneof optional_delay {
    google.protobuf.NullValue delay_null = 3;
    Interval delay = 4;
  }
  map<string, string> labels = 5;
  message Inner { string secret = 1; }
  enum Kind { KIND_UNSET = 0; }
  option deprecated = true;
}
"""


def test_messages_give_their_fields_types_oneofs_included_nested_ones_apart() -> None:
    messages = proto_messages(MESSAGES)
    assert messages["NotificationRequest"] == {
        "notification": "GrpcNotification",
        "requesting_user": "shared.GrpcUser",
    }
    assert messages["GrpcNotification"] == {
        "id": "string",
        "tags": "string",
        "delay_null": "google.protobuf.NullValue",
        "delay": "Interval",
    }
    assert messages["Inner"] == {"secret": "string"}


def test_a_message_two_files_declare_differently_is_left_out() -> None:
    files = {
        "a.proto": b"message Item { string id = 1; }\nmessage Req { Item item = 1; }",
        "b.proto": b"message Item { string sku = 1; }",
        "c.proto": b"message Req { Item item = 1; }",
        "d.txt": b"message Other { string id = 1; }",
    }
    messages = read_proto_messages(files, files.get)
    assert "Item" not in messages and messages["Req"] == {"item": "Item"}
    assert "Other" not in messages
