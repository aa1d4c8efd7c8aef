export { chatModule, chatService } from './service';
export { topicOf } from './rooms';
