"""The services ``.proto`` files declare, and their full names."""

from __future__ import annotations

from decouple_services.discover.protos import ProtoService, by_name, proto_services

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
