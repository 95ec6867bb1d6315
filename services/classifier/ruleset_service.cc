#include "services/classifier/ruleset_service.h"

#include "services/common/unary_reactor.h"

namespace oppmatrix {

grpc::ServerUnaryReactor* RulesetServiceImpl::UploadRuleset(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::UploadRulesetRequest, v1::UploadRulesetResponse>(
      context, core_, &RulesetCore::UploadAsync, request, response);
}

grpc::ServerUnaryReactor* RulesetServiceImpl::PreviewRuleset(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::PreviewRulesetRequest, v1::PreviewRulesetResponse>(
      context, core_, &RulesetCore::PreviewAsync, request, response);
}

grpc::ServerUnaryReactor* RulesetServiceImpl::PublishRuleset(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::PublishRulesetRequest, v1::PublishRulesetResponse>(
      context, core_, &RulesetCore::PublishAsync, request, response);
}

grpc::ServerUnaryReactor* RulesetServiceImpl::RollbackRuleset(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::RollbackRulesetRequest, v1::RollbackRulesetResponse>(
      context, core_, &RulesetCore::RollbackAsync, request, response);
}

grpc::ServerUnaryReactor* RulesetServiceImpl::ListRulesets(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::ListRulesetsRequest, v1::ListRulesetsResponse>(
      context, core_, &RulesetCore::ListAsync, request, response);
}

grpc::ServerUnaryReactor* RulesetServiceImpl::GetRuleset(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::GetRulesetRequest, v1::GetRulesetResponse>(
      context, core_, &RulesetCore::GetAsync, request, response);
}

grpc::ServerUnaryReactor* RulesetServiceImpl::GetRescoreStatus(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::GetRescoreStatusRequest, v1::RescoreStatus>(
      context, core_, &RulesetCore::GetRescoreAsync, request, response);
}

}  // namespace oppmatrix
